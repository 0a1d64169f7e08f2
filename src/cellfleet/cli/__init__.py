"""The ``cellfleet`` command.

    cellfleet promote NOTEBOOK [--cron EXPR | --every DURATION] [--name NAME] [-p KEY VALUE]...
                      [--retries N] [--retry-on infra|all] [--expect "METRIC<NUMBER"]...
                      [--after JOB] [--check]
    cellfleet run NOTEBOOK [-p KEY VALUE]... [--kernel NAME] [--cluster ADDRESS] [--resume RUN] [--expect EXPR]...
    cellfleet scheduler [--once] [--concurrency N] [--poll SECONDS]
    cellfleet jobs ls | show JOB | pause JOB | resume JOB | delete JOB | run-now JOB
    cellfleet runs ls [--notebook P] [--status S] [--kind K] [--limit N]
    cellfleet runs show RUN | compare RUN RUN... | logs RUN [--follow]
    cellfleet cluster start [--gpus all|N] [--workers N] [--preload MODULES] [--memory-limit SIZE]
    cellfleet cluster status | stop | restart-workers

Mistakes print one line naming the problem and the fix, and exit with status 2: argparse's
own (an unknown option, a missing value) as ``cellfleet: error: ...``, never its usage block.
``cellfleet run`` exits with 0 when its run succeeded, 1 when it failed, 3 when it failed out
of memory (host or GPU); 130 means interrupted.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from cellfleet.cli.cluster import cluster_parser
from cellfleet.protocol import RunKind, RunStatus, values_of

__all__ = ["CommandParser", "build_parser", "main"]


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose mistakes are one line on stderr and exit status 2.

    The line names the fix (the command's ``--help``) instead of printing the usage block.
    A value that starts with ``-`` and a digit (``--every -5s``) is read as a value, as
    Python 3.13's argparse does, so the option's own check says what is wrong with it.
    Subcommand parsers are made of this class too (``add_subparsers`` uses the parent's).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        hint = f"see `{self.prog} --help`"
        if "expected one argument" in message:
            hint = f"give the option a value (a value that starts with '-' is written --option=VALUE); {hint}"
        self.exit(2, f"cellfleet: error: {message}; {hint}\n")


def _runs_parser(commands: argparse._SubParsersAction[CommandParser]) -> None:
    runs = commands.add_parser("runs", help="list, show, compare and follow runs")
    actions = runs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("ls", help="list runs, newest first")
    listing.add_argument("--notebook")
    listing.add_argument("--status", choices=values_of(RunStatus))
    listing.add_argument("--kind", choices=values_of(RunKind))
    listing.add_argument("--limit", type=int, default=50)
    actions.add_parser("show", help="one run: params, metrics, environment, output").add_argument("run")
    actions.add_parser("compare", help="runs side by side").add_argument("runs", nargs="+")
    logs = actions.add_parser("logs", help="a production run's progress, cell by cell")
    logs.add_argument("run")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")


def _jobs_parser(commands: argparse._SubParsersAction[CommandParser]) -> None:
    from cellfleet.production.spec import add_job_arguments

    promote = commands.add_parser("promote", help="make a notebook a scheduled production job")
    promote.add_argument("notebook")
    add_job_arguments(promote)
    run = commands.add_parser(
        "run",
        help="one production run of a notebook, now",
        epilog="exit status: 0 the run succeeded, 1 it failed, 2 a mistake in the command, "
        "3 it failed out of memory (host MemoryError, a worker killed for memory, CUDA out of memory), "
        "130 interrupted",
    )
    run.add_argument("notebook")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"))
    run.add_argument("--kernel")
    run.add_argument(
        "--cluster", metavar="ADDRESS", help="Dask scheduler for its %%%%remote cells (default: CELLFLEET_SCHEDULER)"
    )
    run.add_argument(
        "--expect", action="append", metavar="EXPR",
        help='a bound the final metrics must meet, like "val_loss<0.2" (repeat for more); a run that breaks one fails',
    )  # fmt: skip
    run.add_argument(
        "--resume",
        metavar="RUN",
        help="the next attempt of this failed run of the notebook: its finished %%%%remote cells are restored",
    )
    scheduler = commands.add_parser("scheduler", help="the service that runs jobs on schedule")
    scheduler.add_argument("--once", action="store_true", help="run what is due, then exit")
    scheduler.add_argument("--concurrency", type=int, default=4, help="runs at once (default 4)")
    scheduler.add_argument("--poll", type=float, default=0.25, help="seconds between checks (default 0.25)")
    jobs = commands.add_parser("jobs", help="list and manage jobs").add_subparsers(dest="action", required=True)
    jobs.add_parser("ls", help="every job, its schedule, next run and last status")
    show = jobs.add_parser("show", help="a job and its run history")
    show.add_argument("job")
    show.add_argument("--limit", type=int, default=20)
    for action in ("pause", "resume", "delete", "run-now"):
        jobs.add_parser(action).add_argument("job")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="cellfleet", description="Cellfleet: runs, experiments and jobs.")
    parser.add_argument("--db", help="SQLAlchemy URL of the store (default: CELLFLEET_DB or .cellfleet/cellfleet.db)")
    commands = parser.add_subparsers(dest="command", required=True)
    _runs_parser(commands)
    _jobs_parser(commands)
    cluster_parser(commands)
    return parser


def _dispatch(store: object, args: argparse.Namespace) -> str:
    from cellfleet.cli.jobs import JOB_ACTIONS, promote_command, scheduler_command
    from cellfleet.cli.runs import RUN_ACTIONS

    if args.command == "runs":
        return RUN_ACTIONS[args.action](store, args)
    if args.command == "jobs":
        return JOB_ACTIONS[args.action](store, args)
    commands = {"promote": promote_command, "scheduler": scheduler_command}
    return commands[args.command](store, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (2, after one line on stderr, for a mistake)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0), or a mistake argparse found (2, one line: CommandParser.error)
        return stop.code if isinstance(stop.code, int) else 2
    from cellfleet.cli.runs import CommandError
    from cellfleet.errors import CellfleetError
    from cellfleet.store.database import open_store

    try:
        if args.command == "run":  # opens the store itself, off the critical path
            from cellfleet.cli.jobs import run_command

            text = run_command(args.db, args)
        elif args.command == "cluster":  # no store
            from cellfleet.cli.cluster import cluster_command

            text = cluster_command(args)
        else:
            text = _dispatch(open_store(args.db), args)
    except (CommandError, CellfleetError) as error:
        code = error.exit_code if isinstance(error, CommandError) else 2
        print(f"cellfleet: {'error: ' if code == 2 else ''}{error}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("cellfleet: interrupted", file=sys.stderr)
        return 130
    if text:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

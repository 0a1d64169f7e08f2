"""``cellfleet cluster start|status|stop|restart-workers``: the project's warm shared cluster.

The work is :mod:`cellfleet.cluster.launch`'s (no Dask here either). Exit status: 0 done
(``start`` while one runs says so and is 0; ``stop`` with none running is 0), 1 it could
not be done (``status`` and ``restart-workers`` with none running), 2 a mistake.
"""

from __future__ import annotations

import argparse
from typing import Any

from cellfleet.cli.runs import CommandError

__all__ = ["cluster_command", "cluster_parser"]


def cluster_parser(commands: Any) -> None:
    """Add ``cellfleet cluster ...`` to the command's subparsers."""
    from cellfleet.cluster.options import add_start_arguments

    cluster = commands.add_parser("cluster", help="the project's warm shared cluster, which outlives kernels")
    actions = cluster.add_subparsers(dest="action", required=True)
    start = actions.add_parser(
        "start",
        help="start it in the background (LocalCUDACluster with GPUs, else LocalCluster)",
        epilog="a second start while one runs says so and exits with 0",
    )
    add_start_arguments(start)
    actions.add_parser("status", help="address, pid, uptime, workers, GPUs, memory, dashboard (1: none runs)")
    actions.add_parser("stop", help="close it (killed after 30 s)")
    actions.add_parser("restart-workers", help="replace every worker process (what they keep is lost)")


def cluster_command(args: argparse.Namespace) -> str:
    """Run ``cellfleet cluster ACTION``; returns the text to print."""
    from cellfleet.cluster import launch
    from cellfleet.cluster.options import StartOptions

    try:
        if args.action == "start":
            return launch.start(StartOptions.from_args(args))
        actions = {"status": launch.status, "stop": launch.stop, "restart-workers": launch.restart_workers}
        return actions[args.action]()
    except launch.LaunchError as error:
        raise CommandError(str(error), exit_code=error.exit_code) from None
    except ValueError as error:
        raise CommandError(str(error)) from None

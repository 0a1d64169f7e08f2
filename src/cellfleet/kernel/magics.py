"""The IPython magics: ``%%remote``, ``%pull``, ``%wait``, ``%attach``, ``%unpublish`` and ``%cellfleet``.

Each magic parses its arguments (mistakes raise ``UsageError`` saying the fix), then calls
into :mod:`cellfleet.kernel.remote`, :mod:`cellfleet.kernel.published` or
:mod:`cellfleet.kernel.commands` (``%cellfleet``'s subcommands).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from cellfleet.config import parse_size
from cellfleet.errors import CellfleetError
from cellfleet.kernel.commands import cellfleet_command, check_settings
from cellfleet.kernel.options import ORDER, Objective, OptionError
from cellfleet.kernel.published import attach, unpublish
from cellfleet.kernel.remote import RemoteOptions, RemoteRunner
from cellfleet.kernel.space import PRUNERS, SAMPLERS, search_options

if TYPE_CHECKING:
    from cellfleet.production.spec import JobSpec

__all__ = ["CellfleetMagics", "parse_remote_options"]

_TARGETS = ("gpu", "cpu")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _names(text: str | None, flag: str) -> frozenset[str]:
    if not text:
        return frozenset()
    names = [part.strip() for part in text.split(",") if part.strip()]
    bad = [n for n in names if not n.isidentifier()]
    if bad or not names:
        raise UsageError(f"{flag} takes variable names separated by commas, like {flag} model,data (got {text!r})")
    return frozenset(names)


def _positive(value: float | None, flag: str, whole: bool = False, zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not zero):
        least = "0" if zero else "more than 0"
        raise UsageError(f"{flag} must be {least} (got {value:g})")
    if whole and value != int(value):
        raise UsageError(f"{flag} takes a whole number (got {value:g})")


@magic_arguments()
@argument("target", nargs="?", help="gpu (ask for a GPU) or cpu; default cpu, or gpu when --gpus is given")
@argument("--gpus", type=int, metavar="N", help="GPUs the cell needs (default 1 with gpu)")
@argument("--cpus", type=float, metavar="N", help="CPU cores the cell needs")
@argument("--memory", metavar="SIZE", help="memory the cell needs, like 16GB")
@argument("--cluster", metavar="ADDRESS", help="Dask scheduler to run on (default: CELLFLEET_SCHEDULER or embedded)")
@argument("--retries", type=int, default=1, metavar="N", help="runs again if its worker dies (default 1)")
@argument("--timeout", type=float, metavar="SECONDS", help="stop the cell after this many seconds")
@argument("--name", metavar="NAME", help="a name for the cell (status, %%wait, dashboard)")
@argument("--nowait", action="store_true", help="return at once; results arrive when the cell completes")
@argument("--keep", metavar="NAMES", help="results to keep on the cluster whatever their size")
@argument("--publish", metavar="NAMES", help="results to keep on the cluster under their names, beyond this kernel")
@argument("--pull", metavar="NAMES", help="results to bring back whatever their size (GPU data to host)")
@argument("--require-gpu", action="store_true", help="fail instead of running on CPU when there is no GPU")
@argument(
    "--grid", action="append", metavar="NAME=V1,V2", help="a parameter's values; variants run for every combination"
)
@argument("--variants", metavar="NAME_OR_JSON", help="a list of param dicts: JSON, or the name of a notebook list")
@argument("--max-parallel", type=int, metavar="K", help="at most K variants submitted at once")
@argument("--maximize", action=Objective, metavar="METRIC", help="higher is better for METRIC (best, %%adopt best)")
@argument("--minimize", action=Objective, metavar="METRIC", help="lower is better for METRIC (best, %%adopt best)")
@argument("--cache", action="store_true", help="reuse the results of an identical succeeded run instead of running")
@argument(
    "--search",
    action="append",
    metavar="NAME=DIST",
    help="search a parameter: uniform(a,b), loguniform(a,b), int(a,b[,step]) or choice(v1,...)",
)
@argument("--trials", type=int, metavar="N", help="trials of the --search to run (default 20)")
@argument("--sampler", choices=SAMPLERS, help="how --search picks params (default tpe)")
@argument("--prune", choices=PRUNERS, help="how --search stops poor trials early (default median)")
@argument("--study", metavar="NAME", help="keep the --search study in the store; the same NAME continues it")
@argument("--seed", type=int, metavar="N", help="seed of the --search sampler")
def _remote_signature(line: str, cell: str) -> None:
    """Placeholder carrying ``%%remote``'s argument declarations."""


def _parse_line(line: str) -> Any:
    try:
        return parse_argstring(_remote_signature, line)
    except ValueError as error:  # unbalanced quotes, from shlex
        raise UsageError(f"%%remote: cannot read the arguments ({error}): check the quotes") from None


def _check_target(args: Any) -> None:
    target = args.target
    if target is not None and target not in _TARGETS:
        raise UsageError(f"%%remote: unknown target {target!r}: write %%remote gpu or %%remote cpu")
    if target == "cpu" and args.gpus:
        raise UsageError("%%remote: --gpus asks for GPUs but the target is cpu: write %%remote gpu --gpus N")


def _check_numbers(args: Any) -> int | None:
    _positive(args.gpus, "--gpus", whole=True)
    _positive(args.cpus, "--cpus")
    _positive(args.timeout, "--timeout")
    _positive(args.retries, "--retries", whole=True, zero=True)
    if args.name is not None and not _NAME.match(args.name):
        raise UsageError(f"--name {args.name!r}: use letters, digits, '_', '.' and '-', starting with a letter")
    try:
        return parse_size(args.memory, "--memory") if args.memory is not None else None
    except ValueError as error:
        raise UsageError(str(error)) from None


def parse_remote_options(line: str) -> RemoteOptions:
    """Parse a ``%%remote`` line into options, or raise ``UsageError`` saying the fix."""
    args = _parse_line(line)
    _check_target(args)
    memory = _check_numbers(args)
    _check_variant_options(args)
    with _as_usage_errors():
        search = search_options(args)
    return RemoteOptions(
        gpus=args.gpus or (1 if args.target == "gpu" else 0),
        cpus=args.cpus,
        memory=memory,
        cluster=args.cluster,
        retries=args.retries,
        timeout=args.timeout,
        name=args.name,
        nowait=args.nowait,
        keep=_names(args.keep, "--keep"),
        pull=_names(args.pull, "--pull"),
        publish=_names(args.publish, "--publish"),
        require_gpu=args.require_gpu,
        grid=tuple(args.grid or ()),
        variants=args.variants,
        max_parallel=args.max_parallel,
        objectives=tuple(getattr(args, ORDER, ())),
        cache=args.cache,
        search=search,
    )


def _check_variant_options(args: Any) -> None:
    if args.grid and args.variants:
        raise UsageError("%%remote: give either --grid or --variants, not both")
    fans_out = bool(args.grid or args.variants or args.search)
    if args.publish and fans_out:
        raise UsageError("%%remote: --publish goes with a single cell, not --grid/--variants/--search")
    if args.nowait and fans_out:
        raise UsageError("%%remote: --nowait does not combine with --grid/--variants/--search; the table shows it live")
    if not fans_out and (args.max_parallel or args.maximize or args.minimize):
        raise UsageError("%%remote: --max-parallel, --maximize and --minimize go with --grid, --variants or --search")
    _positive(args.max_parallel, "--max-parallel", whole=True)
    metrics = [*(args.maximize or ()), *(args.minimize or ())]
    bad = [m for m in metrics if not m.isidentifier()]
    if bad:
        raise UsageError(f"--maximize/--minimize {bad[0]!r}: give a metric name as passed to cellfleet.log")
    both = set(args.maximize or ()) & set(args.minimize or ())
    if both:
        raise UsageError(f"--maximize and --minimize both name {sorted(both)[0]!r}: choose one")


class _PromoteParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%promote: {message}")


def _parse_promote(line: str) -> tuple[str | None, JobSpec]:
    """``%promote``'s line: the notebook named (or ``None``) and the job spec."""
    from cellfleet.production.spec import JobSpec, add_job_arguments

    parser = _PromoteParser(prog="%promote", add_help=False)
    parser.add_argument("notebook", nargs="?")
    add_job_arguments(parser)
    try:
        args = parser.parse_args(shlex.split(line))
    except ValueError as error:
        raise UsageError(f"%promote: cannot read the arguments ({error}): check the quotes") from None
    try:
        return args.notebook, JobSpec.from_args(args)
    except CellfleetError as error:
        raise UsageError(f"%promote: {error}") from None


_REMOTE_HELP = """Run the cell as a Dask task on a (GPU) worker, as if it ran here.

The variables the cell reads travel with it; the ones it assigns come back. Results
larger than CELLFLEET_REMOTE_THRESHOLD (64 MiB) and GPU-resident objects stay on the
worker: the notebook gets a handle, later %%remote cells use the data in place, and
%pull NAME brings a copy here. Output streams into the cell while it runs.
--publish NAMES keeps results on the cluster under their names, beyond this kernel:
%attach NAME gives any kernel on that cluster a handle to them (see %attach).

Examples::

    %%remote gpu
    import cupy as cp
    x = cp.random.random((20_000, 20_000))      # stays on the GPU: x is a handle
    total = float(x.sum())                       # a float: comes back

    %%remote gpu --timeout 600 --retries 2 --name train
    model = train(data, epochs=10)

    %%remote cpu --nowait --name prep
    features = build_features(raw)
    # ... later: %wait prep

Without a configured cluster (--cluster or CELLFLEET_SCHEDULER) an embedded local cluster
starts on first use: one worker per GPU with dask-cuda, or CPU workers on a machine
without one (gpu cells then run on CPU with a warning, unless --require-gpu).
"""


@contextlib.contextmanager
def _as_usage_errors() -> Iterator[None]:
    """Show the kernel's :class:`OptionError` (a mistake in what was asked) as IPython's one-line UsageError."""
    try:
        yield
    except OptionError as error:
        raise UsageError(str(error)) from None


@magics_class
class CellfleetMagics(Magics):
    """Cellfleet's magics, bound to one IPython shell."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.runner = RemoteRunner(shell)

    def close(self) -> None:
        """Stop the ``--nowait`` cells still running and join their threads (the extension is unloading)."""
        self.runner.close()

    @cell_magic
    def remote(self, line: str, cell: str) -> Any:
        options = parse_remote_options(line)
        with _as_usage_errors():
            return self.runner.run(options, cell, check_settings())

    remote.__doc__ = _REMOTE_HELP + "\n" + (_remote_signature.__doc__ or "").split("\n", 2)[-1]

    @line_magic
    def pull(self, line: str) -> None:
        """Bring remote results into the notebook: ``%pull [--force] NAME [NAME ...]``.

        GPU data is copied to host memory (CuPy to NumPy, CUDA tensors to CPU tensors). A persisted
        Dask collection is computed here; above the remote threshold only with ``--force``.
        """
        force, names = "--force" in line.split(), [word for word in line.split() if word != "--force"]
        if not names:
            raise UsageError("%pull needs the names of remote results, like %pull model data")
        _names(",".join(names), "%pull")
        with _as_usage_errors():
            self.runner.pull(names, force)

    @line_magic
    def adopt(self, line: str) -> None:
        """Assign a variant's results to the notebook: ``%adopt RUN``, ``%adopt INDEX`` or ``%adopt best``.

        INDEX is the number in the first column of the last group's table: a variant's index
        after ``--grid``/``--variants``, the trial's number after ``--search`` (a continued
        ``--study`` numbers on from its earlier trials). ``best`` is chosen by the metric of
        ``--maximize``/``--minimize``; remote handles stay remote.
        """
        parts = line.split()
        if len(parts) != 1:
            raise UsageError("%adopt takes one run id, variant index or trial number, or best, like %adopt best")
        with _as_usage_errors():
            self.runner.adopt(parts[0])

    @line_magic
    def promote(self, line: str) -> None:
        """Make a notebook a scheduled production job: ``%promote [NOTEBOOK] --cron "0 2 * * *" -p lr 0.01``.

        Without NOTEBOOK it promotes this notebook (as saved: save it first). Options are
        those of ``cellfleet promote``: --cron/--every, --name, -p KEY VALUE, --from-run RUN
        (``--from-run best`` takes the best variant of the last grid), --cluster, --retries,
        --retry-on infra|all, --expect "val_loss<0.2" (repeatable), --timeout, --concurrency,
        --overlap, --catchup, --notify URL, --notify-on, --kernel, --after JOB, --check.
        """
        import dataclasses

        from cellfleet.kernel.context import notebook_path
        from cellfleet.production.promote import promote, promotion_summary
        from cellfleet.store.database import open_store
        from cellfleet.store.recorder import writer_for

        notebook, spec = _parse_promote(line)
        if notebook is None:
            notebook = notebook_path(self.shell) or None
        if not notebook:
            raise UsageError("%promote: this kernel does not know its notebook's path; write %promote NOTEBOOK.ipynb")
        if spec.from_run == "best":
            with _as_usage_errors():
                spec = dataclasses.replace(spec, from_run=self.runner.variants.best_run_id())
        writer_for().flush()  # the runs named by --from-run are in the store
        try:
            print(promotion_summary(notebook, promote(notebook, spec, open_store())))
        except CellfleetError as error:
            raise UsageError(f"%promote: {error}") from None

    @line_magic
    def wait(self, line: str) -> None:
        """Block until a ``--nowait`` cell finishes: ``%wait [NAME]`` (all when no name)."""
        parts = line.split()
        if len(parts) > 1:
            raise UsageError("%wait takes at most one cell name, like %wait train")
        with _as_usage_errors():
            self.runner.wait(parts[0] if parts else None)

    @line_magic
    def attach(self, line: str) -> None:
        """Attach published results: ``%attach [--cluster ADDRESS] NAME [NAME ...]``.

        Each NAME becomes a handle to the result published under it (``%%remote --publish`` or
        ``cellfleet.publish``) on the cluster, by this kernel or any other: later ``%%remote`` cells
        use it in place, ``%pull NAME`` brings it here. ``%cellfleet datasets`` lists them.
        """
        address, names = _published_line(line, "%attach")
        with _as_usage_errors():
            attach(self.runner.shell.user_ns, names, address)

    @line_magic
    def unpublish(self, line: str) -> None:
        """Remove published results: ``%unpublish [--cluster ADDRESS] NAME [NAME ...]|all``.

        The scheduler lets go of them; their data goes once no kernel holds a handle to it.
        """
        address, names = _published_line(line, "%unpublish", every=True)
        with _as_usage_errors():
            print(unpublish(names, address))

    @line_magic
    def cellfleet(self, line: str) -> None:
        """Cluster commands: ``%cellfleet status [--cluster ADDRESS]``, ``%cellfleet start [OPTIONS]``,
        ``%cellfleet drop NAME ...|all``, ``%cellfleet datasets [--cluster ADDRESS]`` or ``%cellfleet shutdown``.

        ``status`` describes the cluster at ADDRESS, else the clusters this kernel uses (else
        CELLFLEET_SCHEDULER's, else the project's shared cluster), and which workers cannot run
        cells; it never starts the embedded cluster. ``start`` is ``cellfleet cluster start``:
        the project's warm shared cluster, in the background ([--gpus all|N] [--workers N]
        [--preload MODULES] [--memory-limit SIZE]). ``shutdown`` closes the embedded cluster
        (or leaves the shared one, which runs on). ``status`` also lists the large inputs and
        persisted collections the cluster holds for this notebook; ``drop`` releases them.
        ``datasets`` lists the published results (name, type, size, worker, age): ``%attach NAME``.
        """
        print(cellfleet_command(line, self.shell))


def _published_line(line: str, magic: str, every: bool = False) -> tuple[str | None, list[str]]:
    """The ``--cluster ADDRESS`` and the names of ``%attach``/``%unpublish``."""
    words = line.split()
    address = None
    if words[:1] == ["--cluster"] and len(words) > 1:
        address, words = words[1], words[2:]
    elif words and words[0].startswith("--cluster="):
        address, words = words[0].partition("=")[2] or None, words[1:]
    if every and words == ["all"]:
        return address, words
    if not words or any(not word.isidentifier() for word in words):
        form = "NAME [NAME ...]" + ("|all" if every else "")
        raise UsageError(f"{magic} takes the names of published results: {magic} [--cluster ADDRESS] {form}")
    return address, words

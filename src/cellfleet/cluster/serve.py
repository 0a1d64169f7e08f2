"""The shared cluster's process:
``python -m cellfleet.cluster.serve [--gpus all|N] [--workers N] [--preload MODULES] [--memory-limit SIZE]``.

``cellfleet cluster start`` (:mod:`cellfleet.cluster.launch`) starts it in a session of its
own, in the project root, with its output going to ``.cellfleet/cluster.log``. It

1. reads its options, and checks that every ``--preload`` module can be imported, before it
   imports Dask (a mistake: one line, exit status 2);
2. takes the project's cluster lock, held for its whole life (exit status 3 when another
   process holds it: a shared cluster runs, or starts, for this project);
3. starts the embedded cluster a kernel would start (:func:`cellfleet.gpus.start_local_cluster`:
   ``LocalCUDACluster`` when GPUs are visible, else ``LocalCluster``; one thread per worker,
   ``CPU``/``MEMORY``/``GPU`` resources), with the preloads :mod:`cellfleet.worker.shield` and
   :mod:`cellfleet.worker.warm`, then the ``--preload`` modules, and the scheduler plugin
   :class:`~cellfleet.cluster.plugin.SharedScheduler`;
4. writes ``.cellfleet/cluster.json`` and runs until SIGTERM or SIGINT (SIGHUP is ignored);
   then it removes the record and closes the cluster.

Exit status: 0 stopped, 1 it could not start, 2 a mistake in the options, 3 taken.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from cellfleet.cluster.options import StartOptions, add_start_arguments
from cellfleet.cluster.record import ClusterRecord, Paths, hold_lock, paths, remove_record, write_record

__all__ = ["EXIT_FAILED", "EXIT_TAKEN", "EXIT_USAGE", "main", "read_options"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TAKEN = 3
CLOSE_TIMEOUT = 20.0
"""Seconds closing the cluster may take once asked to stop."""
KEEP_NANNIES = "3650d"
"""``distributed.deploy.lost-worker-timeout`` here. A ``LocalCluster`` closes a worker's nanny
for good when, that long (15 s by default) after the worker left, no worker of its name is
back; a restart that happens to be under way at that moment (``restart-workers``, a worker
restarted for memory or to stop a stuck cell, 15 s after an earlier one) then loses the worker
for ever. The nannies run in this process and restart their workers themselves, so none is
ever closed."""
DASHBOARD = ":8787"
"""Dask's usual dashboard port (another one is picked when it is taken)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def read_options(argv: Sequence[str]) -> StartOptions:
    """The options in ``argv``; ``ValueError`` saying what is wrong."""
    parser = _Parser(prog="python -m cellfleet.cluster.serve", add_help=False)
    add_start_arguments(parser)
    return StartOptions.from_args(parser.parse_args(list(argv)))


def check_preload(names: Sequence[str]) -> None:
    """``ValueError`` naming the first of ``names`` that no installed module answers to."""
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package missing, or not a package
            found = False
        if not found:
            raise ValueError(
                f"--preload {name}: no module named {name!r} is installed for {sys.executable}: "
                "install it in this environment, or leave it out of --preload"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the shared cluster until asked to stop; returns the exit status."""
    try:
        options = read_options(sys.argv[1:] if argv is None else argv)
        check_preload(options.preload)
    except ValueError as error:
        return _say(f"error: {error}", EXIT_USAGE)
    where = paths()
    lock = hold_lock(where.lock)
    if lock is None:
        return _say("another shared cluster runs or starts for this project: cellfleet cluster status", EXIT_TAKEN)
    with lock:
        return _serve(options, where)


def _say(line: str, code: int) -> int:
    print(f"cellfleet: {line}", file=sys.stderr, flush=True)
    return code


def _serve(options: StartOptions, where: Paths) -> int:
    stop = _stop_on_signals()
    try:
        cluster, record = _start(options, where)
    except ValueError as error:
        return _say(f"error: {error}", EXIT_USAGE)
    except Exception as error:  # said in one line, for `cellfleet cluster start` to show
        detail = " ".join(str(error).split())
        return _say(
            f"the shared cluster did not start ({type(error).__name__}: {detail}): see {where.log}", EXIT_FAILED
        )
    try:
        write_record(where.record, record)
        print(f"cellfleet: shared cluster up at {record.address} (pid {record.pid})", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        remove_record(where.record, record)  # first, so that no kernel connects to a closing cluster
        cluster.close(timeout=CLOSE_TIMEOUT)
    print("cellfleet: shared cluster stopped", flush=True)
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return stop


def _start(options: StartOptions, where: Paths) -> tuple[Any, ClusterRecord]:
    """The cluster, started, and its record (not written yet); ``ValueError`` for a mistake."""
    import dask.config
    import psutil

    from cellfleet.cluster.plugin import SharedScheduler
    from cellfleet.config import load_settings
    from cellfleet.gpus import start_local_cluster
    from cellfleet.worker import shield, warm

    gpus = _gpus(options)
    count = gpus or options.workers or load_settings().workers or min(4, os.cpu_count() or 1)
    memory = options.memory_limit or psutil.virtual_memory().total // count
    worker_options = dict(
        n_workers=count,
        threads_per_worker=1,
        memory_limit=memory,
        resources={"CPU": 1, "MEMORY": memory} | ({"GPU": 1} if gpus else {}),
        dashboard_address=DASHBOARD,
        silence_logs=logging.WARNING,
        preload=[shield.MODULE, warm.MODULE, *options.preload],
        scheduler_kwargs={"plugins": [SharedScheduler()]},
    )
    dask.config.set({"distributed.deploy.lost-worker-timeout": KEEP_NANNIES})  # for good: see KEEP_NANNIES
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # as the embedded cluster
        cluster, warning = start_local_cluster(gpus, **worker_options)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return cluster, _record(cluster, options, count, gpus, memory, where)


def _gpus(options: StartOptions) -> int:
    """How many GPUs to use (those first in ``CUDA_VISIBLE_DEVICES`` are made the only visible ones)."""
    from cellfleet.gpus import gpu_count, visible_devices

    visible = visible_devices(gpu_count())
    if options.gpus is None and options.workers is not None and visible:
        raise ValueError(
            f"--workers sets CPU workers and this machine shows {len(visible)} GPUs: give --gpus 0 --workers "
            f"{options.workers} for CPU workers, or leave --workers out (one worker per GPU)"
        )
    wanted = len(visible) if options.gpus is None else options.gpus
    if wanted > len(visible):
        if not visible:
            raise ValueError(f"--gpus {wanted}: this machine shows no GPU to NVML: leave --gpus out, or --gpus 0")
        plural = "s" if len(visible) != 1 else ""
        raise ValueError(
            f"--gpus {wanted}: this machine shows {len(visible)} GPU{plural}: ask for at most that, or all"
        )
    if wanted:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(visible[:wanted])
    return wanted


def _record(cluster: Any, options: StartOptions, count: int, gpus: int, memory: int, where: Paths) -> ClusterRecord:
    import psutil

    from cellfleet._version import __version__

    return ClusterRecord(
        address=cluster.scheduler_address,
        pid=os.getpid(),
        pid_started=psutil.Process().create_time(),
        started=time.time(),
        kind=type(cluster).__name__,
        workers=count,
        gpus=gpus,
        memory_per_worker=int(memory),
        dashboard=cluster.dashboard_link or None,
        preload=options.preload,
        prefix=sys.prefix,
        python=sys.executable,
        cellfleet=__version__,
        log=str(where.log),
    )


if __name__ == "__main__":
    sys.exit(main())

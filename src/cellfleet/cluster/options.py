"""``cellfleet cluster start``'s options, read and checked without Dask.

``--gpus all|N``, ``--workers N``, ``--preload MODULES`` and ``--memory-limit SIZE``: the CLI
and the cluster's own process read them with :func:`add_start_arguments`, so a mistake is
the same one line (exit status 2) from either. Whether a ``--preload`` module can be imported
and whether ``--gpus N`` GPUs exist are checked by the cluster's process, before it starts
anything (:mod:`cellfleet.cluster.serve`).
"""

from __future__ import annotations

import argparse
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "StartOptions",
    "add_start_arguments",
    "parse_gpus",
    "parse_memory",
    "parse_preload",
    "parse_workers",
]

_SIZE = re.compile(r"^\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, **{f"{p}{b}": 1000**n for n, p in enumerate("kmgtp", 1) for b in ("", "b")}}
_UNITS |= {f"{p}i{b}": 1024**n for n, p in enumerate("kmgtp", 1) for b in ("", "b")}


@dataclass(frozen=True)
class StartOptions:
    """How to start the shared cluster."""

    gpus: int | None = None
    """GPUs to use (one worker each); ``None``: every GPU this machine shows; 0: CPU workers."""
    workers: int | None = None
    """CPU workers (no GPUs); ``None``: ``CELLFLEET_WORKERS``, else min(4, CPUs)."""
    preload: tuple[str, ...] = ()
    """Modules every worker imports as it starts."""
    memory_limit: int | None = None
    """Each worker's memory limit, bytes; ``None``: the machine's memory shared out."""

    def argv(self) -> list[str]:
        """These options as command-line arguments (what the cluster's process is started with)."""
        words = ["--gpus", "all" if self.gpus is None else str(self.gpus)]
        if self.workers is not None:
            words += ["--workers", str(self.workers)]
        if self.preload:
            words += ["--preload", ",".join(self.preload)]
        if self.memory_limit is not None:
            words += ["--memory-limit", str(self.memory_limit)]
        return words

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> StartOptions:
        """The options :func:`add_start_arguments` read; ``ValueError`` when they contradict."""
        options = cls(args.gpus, args.workers, args.preload or (), args.memory_limit)
        if options.workers is not None and options.gpus:
            raise ValueError(
                "--workers sets CPU workers, and a GPU cluster runs one worker per GPU: give --gpus N, "
                "or --gpus 0 --workers N for CPU workers"
            )
        return options


def parse_gpus(text: str) -> int | None:
    """``all`` (``None``) or a whole number of GPUs, 0 or more."""
    if text.strip().lower() == "all":
        return None
    if not text.strip().isdigit():
        raise ValueError(f"{text!r} is not all or a number of GPUs: write --gpus all, --gpus 2, or --gpus 0 for CPU")
    return int(text)


def parse_workers(text: str) -> int:
    """A whole number of workers, 1 or more."""
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a number of workers: write --workers 2 (1 or more)")
    return int(text)


def parse_memory(text: str) -> int | None:
    """A size in bytes (``16GB``, ``4GiB``, ``2e9``), or ``auto`` (``None``: memory shared out)."""
    if text.strip().lower() == "auto":
        return None
    found = _SIZE.match(text)
    unit = _UNITS.get(found.group(2).lower()) if found else None
    if found is None or unit is None:
        raise ValueError(f"{text!r} is not a size: write --memory-limit 16GB, 4GiB or 2e9 (bytes per worker), or auto")
    size = int(float(found.group(1)) * unit)
    if size < 1:
        raise ValueError(f"{text!r} is no memory: give each worker more than 0 bytes, or auto")
    return size


def parse_preload(text: str) -> tuple[str, ...]:
    """Module names separated by commas, like ``torch,cupy``."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [name for name in names if not all(p.isidentifier() and not keyword.iskeyword(p) for p in name.split("."))]
    if bad or not names:
        raise ValueError(f"{text!r} is not a list of module names: write --preload torch,cupy")
    return names


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` as an argparse type: its ``ValueError`` becomes argparse's one-line message."""

    def read(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    read.__name__ = parse.__name__
    return read


def add_start_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cellfleet cluster start`` (and of the cluster's process)."""
    parser.add_argument(
        "--gpus",
        type=_typed(parse_gpus),
        default=None,
        metavar="all|N",
        help="GPUs to use, one worker each (default all; 0: CPU workers)",
    )
    parser.add_argument(
        "--workers",
        type=_typed(parse_workers),
        metavar="N",
        help="CPU workers (default CELLFLEET_WORKERS or min(4, CPUs))",
    )
    parser.add_argument(
        "--preload", type=_typed(parse_preload), metavar="MODULES", help="modules every worker imports as it starts"
    )
    parser.add_argument(
        "--memory-limit",
        type=_typed(parse_memory),
        metavar="SIZE",
        help="each worker's memory limit, like 16GB (default: the machine's memory shared out)",
    )

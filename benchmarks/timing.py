"""Timing, statistics and table helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GiB",
    "MiB",
    "Plan",
    "align",
    "elapsed",
    "fixed_table",
    "markdown_table",
    "median",
    "p90",
    "plural",
    "progress",
    "quantile",
    "ranked_p90",
    "size",
    "summary",
    "table",
    "timed",
    "verdict",
]

MiB = 2**20
GiB = 2**30


@dataclass(frozen=True)
class Plan:
    """How many repetitions each benchmark makes: untimed warm-up calls and timed runs of a
    quick action, fresh kernels started, and repetitions of a long chain of cells."""

    warmup: int
    runs: int
    kernels: int
    chains: int


# ---------------------------------------------------------------- statistics


def median(samples: Sequence[float]) -> float:
    """The median of ``samples``."""
    return statistics.median(samples)


def quantile(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``samples`` (nearest rank, rounding down): 0.9 for the p90."""
    return sorted(samples)[int(q * (len(samples) - 1))]


def ranked_p90(samples: Sequence[float]) -> float:
    """The p90 by nearest rank, rounding down (``quantile(samples, 0.9)``)."""
    return quantile(samples, 0.9)


def p90(samples: Sequence[float]) -> float:
    """The p90 interpolated between ranks (``statistics.quantiles``, inclusive); the sample when alone."""
    return statistics.quantiles(samples, n=10, method="inclusive")[-1] if len(samples) > 1 else samples[0]


def summary(
    samples: list[float], p90_of: Callable[[Sequence[float]], float] = p90, keep: bool = True
) -> dict[str, Any]:
    """Median, p90 (``p90_of``: interpolated unless told), count, and the samples themselves when ``keep``."""
    out: dict[str, Any] = {"median": median(samples), "p90": p90_of(samples), "n": len(samples)}
    if keep:
        out["samples"] = samples
    return out


# ---------------------------------------------------------------- timing


def elapsed(action: Callable[[], object]) -> float:
    """Seconds one call of ``action`` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def timed(action: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Milliseconds of each of ``repeats`` calls of ``action``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


# ---------------------------------------------------------------- tables and text


def table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table under ``title``: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [title, align(headers, widths), "  ".join("-" * width for width in widths)]
    lines += [align(row, widths) for row in rows]
    return "\n".join(lines)


def align(cells: list[str], widths: list[int]) -> str:
    """One row of :func:`table`: cells padded to ``widths``, two spaces apart, no trailing blanks."""
    first = cells[0].ljust(widths[0])
    rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
    return "  ".join([first, *rest]).rstrip()


def fixed_table(
    headers: list[str], rows: list[list[str]], widths: list[int], left: int = 1, rule: int | None = None
) -> str:
    """Rows of cells joined by `` | `` and padded to fixed ``widths`` (cells past them unpadded);
    the first ``left`` columns left-aligned, the rest right-aligned; a rule of ``rule`` dashes
    (the header's length unless told) under the header."""

    def line(cells: list[str]) -> str:
        padded = [
            (cell.ljust(widths[i]) if i < left else cell.rjust(widths[i])) if i < len(widths) else cell
            for i, cell in enumerate(cells)
        ]
        return " | ".join(padded)

    head = line(headers)
    return "\n".join([head, "-" * (len(head) if rule is None else rule), *(line(row) for row in rows)])


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A markdown table; an empty cell is written ``| |``."""

    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(row) for row in rows)])


def verdict(value: float, limit: float, strict: bool = False) -> str:
    """``met`` when ``value`` is at most ``limit`` (below it when ``strict``), else ``NOT met``."""
    return "met" if (value < limit if strict else value <= limit) else "NOT met"


def size(nbytes: float) -> str:
    """``nbytes`` in GiB, MiB or KiB."""
    if abs(nbytes) >= GiB:
        return f"{nbytes / GiB:.2f} GiB"
    if abs(nbytes) >= MiB:
        return f"{nbytes / MiB:.1f} MiB"
    return f"{nbytes / 1024:.1f} KiB"


def plural(count: int, word: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def progress(text: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)

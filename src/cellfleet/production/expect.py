"""A job's ``--expect``: bounds its production runs' final metrics must meet.

    cellfleet promote train.ipynb --expect "val_loss<0.2" --expect "accuracy>=0.9"

Each expectation is ``METRIC OP NUMBER``, ``OP`` one of ``< <= > >= == !=``. After a run
succeeds, the last value logged of each metric (by the notebook's own cells or by the remote
cells it ran) is checked; a bound it breaks, or a metric never logged, fails the run with class
``expectation``: the webhook hears it, and it is not retried (the notebook ran to its end).

:meth:`Expectation.parse` is the pure parser (a :class:`~cellfleet.errors.PromotionError` of
one line, showing the right form, for a bad one); :func:`unmet` the pure check.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cellfleet.errors import PromotionError

__all__ = ["FORM", "OPERATORS", "Expectation", "parse_expectations", "unmet"]

OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
"""The comparisons an expectation may make."""

FORM = 'write METRIC OP NUMBER with OP one of < <= > >= == !=, like "val_loss<0.2"'
"""The right form, as every parse error shows it."""

_PARTS = re.compile(r"^(?P<metric>[^<>=!]*)(?P<op>[<>=!]+)(?P<bound>.*)$")
_METRIC = re.compile(r"^[A-Za-z_][\w.:/-]*$")
_LONGEST = 200


@dataclass(frozen=True)
class Expectation:
    """``metric op bound``: what a metric's final value must satisfy."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: object) -> Expectation:
        """The expectation ``text`` states, like ``"val_loss<0.2"`` (spaces allowed around ``OP``)."""
        if not isinstance(text, str):
            raise PromotionError(f'expect must be a list of strings, like ["val_loss<0.2"] (got {type(text).__name__})')
        shown = text if len(text) <= _LONGEST else text[:_LONGEST] + "..."
        found = _PARTS.match(text.strip())
        if not text.strip() or found is None:
            raise PromotionError(f"--expect {shown!r}: no comparison; {FORM}")
        metric, op, bound = found.group("metric").strip(), found.group("op"), found.group("bound").strip()
        if op not in OPERATORS:
            raise PromotionError(f"--expect {shown!r}: {op!r} is not a comparison; {FORM}")
        if not _METRIC.match(metric):
            problem = "no metric named" if not metric else f"{metric!r} is not a metric name"
            raise PromotionError(f"--expect {shown!r}: {problem}; {FORM}")
        return cls(metric, op, _number(bound, shown))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{_shown(self.bound)}"

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.bound)

    def problem(self, finals: Mapping[str, float]) -> str | None:
        """Why ``finals`` (each metric's last value) breaks this expectation; ``None`` when it holds."""
        if self.metric not in finals:
            return f"{self.metric} was never logged (--expect {self})"
        value = finals[self.metric]
        if self.holds(value):
            return None
        return f"{self.metric} was {_shown(value)}, not {self.op} {_shown(self.bound)} (--expect {self})"


def _number(text: str, shown: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not text:
        what = f"{text!r} is not a number" if text else "no number to compare with"
        raise PromotionError(f"--expect {shown!r}: {what}; {FORM}")
    return value


def _shown(value: float) -> str:
    """A number as short as it can be written and still read back the same."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def parse_expectations(texts: Iterable[object] | None) -> tuple[Expectation, ...]:
    """Every expectation of ``texts`` (``--expect`` values, or the promote request's ``expect`` list)."""
    if texts is None:
        return ()
    if isinstance(texts, str | bytes | Mapping) or not isinstance(texts, Iterable):
        raise PromotionError('expect must be a list of strings, like ["val_loss<0.2"]')
    return tuple(Expectation.parse(text) for text in texts)


def unmet(expectations: Iterable[Expectation | str], finals: Mapping[str, float]) -> str | None:
    """One line naming each expectation ``finals`` breaks (metric, value and bound, or a metric
    never logged); ``None`` when all hold."""
    parsed = [e if isinstance(e, Expectation) else Expectation.parse(e) for e in expectations]
    problems = [problem for problem in (e.problem(finals) for e in parsed) if problem]
    return f"expectations not met: {'; '.join(problems)}" if problems else None

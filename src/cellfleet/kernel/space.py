"""Search spaces for ``%%remote --search NAME=DIST`` (pure logic: text in, dimensions out).

The distributions: ``uniform(LOW,HIGH)``, ``loguniform(LOW,HIGH)``, ``int(LOW,HIGH[,STEP])``
and ``choice(V1,V2,...)`` (Python literals; bare words are strings). A mistake is an
:class:`~cellfleet.kernel.options.OptionError` that shows the right form.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cellfleet.kernel.options import OptionError

__all__ = ["FORMS", "PRUNERS", "SAMPLERS", "Dimension", "SearchOptions", "parse_dimension", "parse_space"]

FORMS = {
    "uniform": "uniform(LOW,HIGH)",
    "loguniform": "loguniform(LOW,HIGH) with 0 < LOW < HIGH",
    "int": "int(LOW,HIGH) or int(LOW,HIGH,STEP)",
    "choice": "choice(V1,V2,...)",
}
_EXAMPLE = "like --search lr=loguniform(1e-5,1e-1) or --search act=choice(relu,gelu)"
_CALL = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.S)
_MAX_GRID = 10_000
SAMPLERS = ("tpe", "random", "cmaes", "grid")
PRUNERS = ("median", "asha", "hyperband", "none")


@dataclass(frozen=True)
class SearchOptions:
    """The ``--search`` part of a ``%%remote`` line (the specs as written; parsed when it runs)."""

    space: tuple[str, ...]
    trials: int = 20
    sampler: str = "tpe"
    prune: str = "median"
    study: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: its name and distribution."""

    name: str
    kind: str
    """``uniform``, ``loguniform``, ``int`` or ``choice``."""
    low: float = 0.0
    high: float = 0.0
    step: int = 1
    choices: tuple[Any, ...] = ()

    def grid(self) -> list[Any]:
        """Every value, for the grid sampler (``choice`` and ``int`` only)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            values = list(range(int(self.low), int(self.high) + 1, self.step))
            if len(values) <= _MAX_GRID:
                return values
        raise OptionError(
            f"--sampler grid: {self.name} is {self.kind}({self.low:g},{self.high:g}), which has no finite "
            "list of values: use choice(...) or int(...) for every --search, or another --sampler"
        )


def _fail(spec: str, problem: str, name: str = "NAME", kind: str | None = None) -> OptionError:
    forms = [FORMS[kind]] if kind in FORMS else list(FORMS.values())
    right = " or ".join(f"{name}={form}" for form in forms)
    return OptionError(f"--search {spec}: {problem}; write --search {right}, {_EXAMPLE}")


def _number(text: str, spec: str, name: str, kind: str) -> float:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(spec, f"{text.strip() or 'nothing'!r} is not a number", name, kind)
    return float(value)


def _choice_values(text: str, spec: str, name: str) -> tuple[Any, ...]:
    try:
        values = list(ast.literal_eval(f"[{text}]"))  # keeps commas inside 'a,b' together
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        values = [_bare(part.strip(), spec, name) for part in text.split(",")]
    if not values:
        raise _fail(spec, "give choice at least one value", name, "choice")
    bad = [v for v in values if v is not None and not isinstance(v, (bool, int, float, str))]
    if bad:
        raise _fail(spec, f"{bad[0]!r} is not a number, string, True/False or None", name, "choice")
    if len(set(map(repr, values))) != len(values):
        raise _fail(spec, "a value is given twice", name, "choice")
    return tuple(values)


def _bare(part: str, spec: str, name: str) -> Any:
    try:
        return ast.literal_eval(part)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if part.isidentifier():
            return part  # a bare word is a string: choice(relu,gelu)
        raise _fail(spec, f"{part or 'nothing'!r} is not a Python literal", name, "choice") from None


def _range(spec: str, name: str, kind: str, arguments: list[str]) -> Dimension:
    wanted = (2, 3) if kind == "int" else (2,)
    if len(arguments) not in wanted:
        raise _fail(spec, f"{kind} takes {' or '.join(map(str, wanted))} numbers, not {len(arguments)}", name, kind)
    numbers = [_number(text, spec, name, kind) for text in arguments]
    low, high = numbers[0], numbers[1]
    if kind == "int" and any(n != int(n) for n in numbers):
        raise _fail(spec, "int takes whole numbers", name, kind)
    step = int(numbers[2]) if len(numbers) == 3 else 1
    if step < 1:
        raise _fail(spec, "STEP must be 1 or more", name, kind)
    if low > high or (low == high and kind != "int"):
        raise _fail(spec, f"LOW ({low:g}) must be below HIGH ({high:g})", name, kind)
    if kind == "loguniform" and low <= 0:
        raise _fail(spec, f"loguniform needs LOW above 0 (got {low:g})", name, kind)
    return Dimension(name, kind, low, high, step)


def parse_dimension(spec: str) -> Dimension:
    """``"lr=loguniform(1e-5,1e-1)"`` → a :class:`Dimension`; a mistake shows the right form."""
    name, equals, text = spec.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise _fail(spec, "start with a variable name and '='")
    call = _CALL.match(text)
    if call is None:
        raise _fail(spec, f"{text.strip() or 'nothing'!r} is not a distribution", name)
    kind, inside = call.group(1), call.group(2)
    if kind not in FORMS:
        raise _fail(spec, f"unknown distribution {kind!r}", name)
    if kind == "choice":
        return Dimension(name, kind, choices=_choice_values(inside, spec, name))
    return _range(spec, name, kind, inside.split(",") if inside.strip() else [])


def parse_space(specs: Sequence[str]) -> list[Dimension]:
    """Every ``--search``, each parameter once."""
    dimensions = [parse_dimension(spec) for spec in specs]
    names = [d.name for d in dimensions]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise OptionError(f"--search names {', '.join(repeated)} twice: give each parameter one distribution")
    return dimensions


def search_options(args: Any) -> SearchOptions | None:
    """The ``--search`` options of a parsed ``%%remote`` line (``None`` without ``--search``);
    the space is parsed here, so a bad distribution is reported before anything runs."""
    extras = {"--trials": args.trials, "--sampler": args.sampler, "--prune": args.prune, "--study": args.study}
    extras["--seed"] = args.seed
    if not args.search:
        given = [flag for flag, value in extras.items() if value is not None]
        if given:
            raise OptionError(f"{given[0]} goes with --search NAME=DIST, like --search lr=loguniform(1e-5,1e-1)")
        return None
    if args.grid or args.variants:
        raise OptionError("give either --search or --grid/--variants, not both")
    if args.cache:
        raise OptionError("--cache does not combine with --search: each trial's params are new")
    if not (args.maximize or args.minimize):
        raise OptionError("--search needs an objective: add --minimize METRIC or --maximize METRIC")
    if args.trials is not None and args.trials < 1:
        raise OptionError(f"--trials must be 1 or more (got {args.trials})")
    if args.study is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_.-]*$", args.study):
        raise OptionError(f"--study {args.study!r}: use letters, digits, '_', '.' and '-', starting with a letter")
    parse_space(args.search)
    return SearchOptions(
        tuple(args.search),
        trials=args.trials or SearchOptions.trials,
        sampler=args.sampler or SearchOptions.sampler,
        prune=args.prune or SearchOptions.prune,
        study=args.study,
        seed=args.seed,
    )

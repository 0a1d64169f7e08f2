"""Parameter grids and variant lists for ``%%remote --grid`` and ``--variants`` (pure logic)."""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cellfleet.kernel.options import OptionError

__all__ = ["expand_grid", "parse_axis", "parse_variants"]

MAX_VARIANTS = 10_000


def _literal(text: str, where: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if text.isidentifier():
            return text  # a bare word is a string: --grid opt=adam,sgd
        raise OptionError(
            f"{where}: {text!r} is not a Python literal; write numbers, True/False, or 'strings'"
        ) from None


def _values(text: str, where: str) -> list[Any]:
    try:
        parsed = ast.literal_eval(f"[{text}]")  # keeps commas inside (1, 2) or [3, 4] together
        return list(parsed)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return [_literal(part.strip(), where) for part in text.split(",")]


def parse_axis(spec: str) -> tuple[str, list[Any]]:
    """``"lr=1e-3,1e-4"`` → ``("lr", [0.001, 0.0001])``; mistakes are ``OptionError``s (a ``ValueError``)."""
    where = f"--grid {spec}"
    name, equals, values = spec.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise OptionError(f"{where}: write --grid NAME=V1,V2 with NAME a variable name, like --grid lr=1e-3,1e-4")
    if not values.strip() or (any(not part.strip() for part in values.split(",")) and "(" not in values):
        raise OptionError(f"{where}: give {name} at least one value, like --grid {name}=1,2,3")
    parsed = _values(values, where)
    if not parsed:
        raise OptionError(f"{where}: give {name} at least one value, like --grid {name}=1,2,3")
    return name, parsed


def expand_grid(specs: Sequence[str]) -> list[dict[str, Any]]:
    """Every combination of the axes, in order (the last axis changes fastest)."""
    axes = [parse_axis(spec) for spec in specs]
    names = [name for name, _ in axes]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise OptionError(f"--grid names {', '.join(repeated)} twice: give each parameter once with all its values")
    total = 1
    for _, values in axes:
        total *= len(values)
    if total > MAX_VARIANTS:
        raise OptionError(f"the grid has {total} variants, more than {MAX_VARIANTS}: use fewer values")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(values for _, values in axes))]


def parse_variants(text: str, namespace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``--variants``: a JSON list of dicts, or the name of such a list in the notebook."""
    if text.isidentifier():
        if text not in namespace:
            raise OptionError(f"--variants {text}: no variable {text!r} in the notebook; define a list of dicts first")
        variants = namespace[text]
    else:
        try:
            variants = json.loads(text)
        except json.JSONDecodeError as error:
            raise OptionError(f"--variants: not JSON ({error.msg}); write a list of dicts or name a variable") from None
    return _checked(variants, text)


def _checked(variants: Any, source: str) -> list[dict[str, Any]]:
    if not isinstance(variants, list) or not variants or not all(isinstance(v, dict) for v in variants):
        raise OptionError(
            f"--variants {source}: expected a non-empty list of dicts, like [{{'lr': 0.1}}, {{'lr': 0.01}}]"
        )
    for variant in variants:
        bad = [key for key in variant if not isinstance(key, str) or not key.isidentifier()]
        if bad:
            raise OptionError(f"--variants: parameter names must be variable names (got {bad[0]!r})")
    if len(variants) > MAX_VARIANTS:
        raise OptionError(f"--variants has {len(variants)} entries, more than {MAX_VARIANTS}")
    return [dict(variant) for variant in variants]

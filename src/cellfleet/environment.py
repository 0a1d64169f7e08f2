"""A process's software environment, as a run records it, and how two of them differ.

Every run records the Python version, the versions of a few key packages, and a digest of
every installed distribution (``distributions``), all as strings in ``runs.environment``.
The full list behind a digest is kept once per store (``environments``), so a difference
can name every package that changed, not only the key ones. Only the standard library is
used: workers, kernels, the scheduler and the CLI all describe themselves the same way.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "DIGEST",
    "KEY_PACKAGES",
    "PackageChange",
    "describe",
    "differences",
    "distributions",
    "drift_warning",
]

KEY_PACKAGES = (
    *("numpy", "pandas", "scikit-learn", "scipy", "torch", "cupy", "jax", "cudf"),
    *("dask", "distributed", "papermill", "cellfleet"),
)
"""The packages a run's environment names by version (those installed)."""

DIGEST = "distributions"
"""The environment key holding the digest of every installed distribution."""
_COMPARED = ("python", *KEY_PACKAGES)


@dataclass(frozen=True)
class PackageChange:
    """One package whose version differs: ``promoted`` is the experiment's, ``now`` the run's
    (``None`` where it is not installed)."""

    name: str
    promoted: str | None
    now: str | None

    def __str__(self) -> str:
        return f"{self.name} {self.promoted or 'absent'} -> {self.now or 'absent'}"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def distributions() -> dict[str, str]:
    """Every installed distribution's version by its canonical name (the first found on
    ``sys.path`` wins, as ``import`` finds it); computed once per process."""
    found: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            found.setdefault(_canonical(name), distribution.version)
    return dict(sorted(found.items()))


def digest_of(installed: Mapping[str, str]) -> str:
    """A short, stable digest of ``name==version`` lines."""
    text = "\n".join(f"{name}=={version}" for name, version in sorted(installed.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _description() -> tuple[tuple[str, str], ...]:
    installed = distributions()
    found = {"python": platform.python_version()}
    found.update({name: installed[name] for name in KEY_PACKAGES if name in installed})
    found[DIGEST] = digest_of(installed)
    return tuple(found.items())


def describe() -> dict[str, str]:
    """This process's environment: ``python``, the installed :data:`KEY_PACKAGES`, and the
    :data:`DIGEST` of every distribution (computed once per process)."""
    return dict(_description())


def differences(
    promoted: Mapping[str, str],
    now: Mapping[str, str],
    promoted_all: Mapping[str, str] | None = None,
    now_all: Mapping[str, str] | None = None,
) -> list[PackageChange]:
    """The packages whose versions differ between two environments; empty when they match.

    Given both full lists (``*_all``, from :func:`distributions`) every changed distribution is
    named; otherwise the key packages, and, when only the digests differ, one change named
    ``distributions`` (the digests). An environment recorded before digests were (no
    :data:`DIGEST`) is not compared.
    """
    if DIGEST not in promoted or DIGEST not in now:
        return []
    changes = [PackageChange("python", promoted.get("python"), now.get("python"))]
    if promoted_all is not None and now_all is not None:
        names = sorted(set(promoted_all) | set(now_all))
        changes += [PackageChange(name, promoted_all.get(name), now_all.get(name)) for name in names]
    else:
        changes += [PackageChange(name, promoted.get(name), now.get(name)) for name in _COMPARED[1:]]
    changed = [change for change in changes if change.promoted != change.now]
    if not changed and promoted[DIGEST] != now[DIGEST]:
        changed.append(PackageChange(DIGEST, promoted[DIGEST], now[DIGEST]))
    return changed


def drift_warning(changes: list[PackageChange], source: str) -> str | None:
    """The one-line warning a run with ``changes`` carries (``source``: what it is compared
    with, like ``"run 3f2a1c (the promoted experiment)"``); ``None`` without changes."""
    if not changes:
        return None
    shown = ", ".join(str(change) for change in changes[:12])
    more = f" and {len(changes) - 12} more" if len(changes) > 12 else ""
    return (
        f"environment differs from {source}: {shown}{more}; promote again from this environment, "
        "or install the promoted versions"
    )

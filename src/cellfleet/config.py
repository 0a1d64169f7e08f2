"""Settings, read from the environment and Dask's configuration when asked for.

Nothing here does I/O at import. Each setting has an environment variable and a Dask
config key (``cellfleet.<name>``); the environment wins.

| setting            | environment                  | default                          |
| ------------------ | ---------------------------- | -------------------------------- |
| scheduler address  | ``CELLFLEET_SCHEDULER``      | none: the embedded local cluster |
| require a GPU      | ``CELLFLEET_REQUIRE_GPU``    | off                              |
| keep-remote size   | ``CELLFLEET_REMOTE_THRESHOLD`` | 64 MiB                         |
| embedded workers   | ``CELLFLEET_WORKERS``        | GPUs, else min(4, CPUs)          |
| status display     | ``CELLFLEET_STATUS``         | auto (widget, text or off)       |
| stop grace period  | ``CELLFLEET_KILL_GRACE``     | 3 s, then the worker restarts    |
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dask.config
from dask.utils import parse_bytes

__all__ = ["Settings", "load_settings", "parse_size"]

_DEFAULT_THRESHOLD = 64 * 2**20
_STATUS_MODES = ("auto", "widget", "text", "off")


@dataclass(frozen=True)
class Settings:
    """Cellfleet's settings at one moment."""

    scheduler: str | None
    require_gpu: bool
    remote_threshold: int
    workers: int | None
    status: str
    kill_grace: float


def _raw(name: str) -> object:
    env = os.environ.get(f"CELLFLEET_{name.upper().replace('-', '_')}")
    if env not in (None, ""):
        return env
    return dask.config.get(f"cellfleet.{name}", default=None)


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def parse_size(text: object, what: str) -> int:
    """Parse a size such as ``64MiB`` or ``2e9`` into bytes, or raise ``ValueError``."""
    try:
        size = parse_bytes(text) if isinstance(text, str) else int(text)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise ValueError(f"{what} {text!r} is not a size: write it like 64MiB, 2GB or 1e9") from None
    if size < 0:
        raise ValueError(f"{what} {text!r} is negative: give a size of 0 or more")
    return size


def _number(name: str, kind: type, low: float) -> float | None:
    raw = _raw(name)
    if raw is None:
        return None
    variable = f"CELLFLEET_{name.upper().replace('-', '_')}"
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        example = "4" if kind is int else "3.5"
        raise ValueError(f"{variable}={raw!r} is not a number: set it like {variable}={example}") from None
    if value < low:
        raise ValueError(f"{variable}={raw!r} must be at least {low:g}")
    return value


def load_settings() -> Settings:
    """Read the current settings; raise ``ValueError`` naming a bad one and its fix."""
    threshold = _raw("remote-threshold")
    status = str(_raw("status") or "auto").lower()
    if status not in _STATUS_MODES:
        raise ValueError(f"CELLFLEET_STATUS={status!r} is not one of {', '.join(_STATUS_MODES)}")
    workers = _number("workers", int, 1)
    grace = _number("kill-grace", float, 0)
    return Settings(
        scheduler=str(_raw("scheduler")) if _raw("scheduler") else None,
        require_gpu=_flag(_raw("require-gpu")),
        remote_threshold=(
            parse_size(threshold, "CELLFLEET_REMOTE_THRESHOLD") if threshold is not None else _DEFAULT_THRESHOLD
        ),
        workers=int(workers) if workers is not None else None,
        status=status,
        kill_grace=grace if grace is not None else 3.0,
    )

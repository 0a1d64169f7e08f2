"""Settings, and every environment variable Cellfleet's processes pass each other.

Nothing here does I/O or imports Dask at import time, so the CLI and the server start fast.
Each setting has an environment variable and a Dask config key (``cellfleet.<name>``); the
environment wins.

| setting            | environment                  | default                          |
| ------------------ | ---------------------------- | -------------------------------- |
| scheduler address  | ``CELLFLEET_SCHEDULER``      | none: the embedded local cluster |
| require a GPU      | ``CELLFLEET_REQUIRE_GPU``    | off                              |
| keep-remote size   | ``CELLFLEET_REMOTE_THRESHOLD`` | 64 MiB                         |
| embedded workers   | ``CELLFLEET_WORKERS``        | GPUs, else min(4, CPUs)          |
| worker memory      | ``CELLFLEET_MEMORY_LIMIT``   | the machine's memory / workers (past it they spill to disk) |
| status display     | ``CELLFLEET_STATUS``         | auto (widget, text or off)       |
| stop grace period  | ``CELLFLEET_KILL_GRACE``     | 3 s, then the worker restarts    |
| project root       | ``CELLFLEET_ROOT``           | nearest folder with .cellfleet, .git or pyproject.toml |
| store URL          | ``CELLFLEET_DB``             | sqlite:///ROOT/.cellfleet/cellfleet.db |

The project root's ``.cellfleet/cluster.json`` names the warm shared cluster (:mod:`cellfleet.cluster`).

Passed by a production run to the notebook kernel papermill starts (see :func:`run_environment`):

| variable               | meaning                                                          |
| ---------------------- | ---------------------------------------------------------------- |
| ``CELLFLEET_RUN_ID``   | the run: local ``cellfleet.log`` records into it; ``%%remote`` cells link to it |
| ``CELLFLEET_JOB_ID``   | the job the run belongs to, if any; ``%%remote`` cells link to it too |
| ``CELLFLEET_NOTEBOOK`` | the notebook's path (else Jupyter's ``JPY_SESSION_NAME``)        |
| ``CELLFLEET_DB``       | the store the run is in                                          |
| ``CELLFLEET_SCHEDULER``| the job's cluster, or ``cellfleet run --cluster``, when one is named |
| ``CELLFLEET_RESUME_FROM`` | the attempt a retry (or ``cellfleet run --resume RUN``) resumes: |
|                        | the ``%%remote`` cells it ran are restored, not run again        |
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class Variable(str, enum.Enum):
    """The environment variables processes pass each other (read and written only here)."""

    ROOT = "CELLFLEET_ROOT"
    DB = "CELLFLEET_DB"
    SCHEDULER = "CELLFLEET_SCHEDULER"
    RUN_ID = "CELLFLEET_RUN_ID"
    JOB_ID = "CELLFLEET_JOB_ID"
    NOTEBOOK = "CELLFLEET_NOTEBOOK"
    RESUME_FROM = "CELLFLEET_RESUME_FROM"


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
    memory_limit: int | None = None
    """Each embedded worker's memory limit in bytes (``None``: the machine's memory / workers)."""


def _raw(name: str) -> object:
    env = os.environ.get(f"CELLFLEET_{name.upper().replace('-', '_')}")
    if env not in (None, ""):
        return env
    import dask.config

    return dask.config.get(f"cellfleet.{name}", default=None)


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def parse_size(text: object, what: str) -> int:
    """Parse a size such as ``64MiB`` or ``2e9`` into bytes, or raise ``ValueError``."""
    from dask.utils import parse_bytes

    try:
        size = int(parse_bytes(text)) if isinstance(text, str) else int(text)  # type: ignore[call-overload]
    except (ValueError, TypeError):
        raise ValueError(f"{what} {text!r} is not a size: write it like 64MiB, 2GB or 1e9") from None
    if size < 0:
        raise ValueError(f"{what} {text!r} is negative: give a size of 0 or more")
    return size


def _number(name: str, kind: type[int] | type[float], low: float) -> float | None:
    raw = _raw(name)
    if raw is None:
        return None
    variable = f"CELLFLEET_{name.upper().replace('-', '_')}"
    try:
        value = kind(raw) if isinstance(raw, (int, float, str)) else kind(str(raw))
    except (TypeError, ValueError):
        example = "4" if kind is int else "3.5"
        raise ValueError(f"{variable}={raw!r} is not a number: set it like {variable}={example}") from None
    if value < low:
        raise ValueError(f"{variable}={raw!r} must be at least {low:g}")
    return value


def load_settings() -> Settings:
    """Read the current settings; raise ``ValueError`` naming a bad one and its fix."""
    threshold, memory = _raw("remote-threshold"), _raw("memory-limit")
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
        memory_limit=parse_size(memory, "CELLFLEET_MEMORY_LIMIT") if memory is not None else None,
    )


def _get(variable: Variable) -> str | None:
    return os.environ.get(variable.value) or None


def spill_directory() -> Path:
    """Where the embedded cluster's workers spill to disk: ``.cellfleet/spill`` in the project root."""
    return project_root() / ".cellfleet" / "spill"


def project_root(start: Path | None = None) -> Path:
    """``CELLFLEET_ROOT``, else the nearest folder up from ``start`` (the working directory)
    holding ``.cellfleet``, else one holding ``.git`` or ``pyproject.toml``, else ``start``."""
    root = _get(Variable.ROOT)
    if root:
        return Path(root)
    here = (start or Path.cwd()).resolve()
    for markers in ((".cellfleet",), (".git", "pyproject.toml")):
        for folder in (here, *here.parents):
            if any((folder / marker).exists() for marker in markers):
                return folder
    return here


def default_url(root: str | os.PathLike[str] | None = None) -> str:
    """``CELLFLEET_DB``, else a SQLite file at ``.cellfleet/cellfleet.db`` in the project root."""
    url = _get(Variable.DB)
    if url:
        return url
    folder = Path(root) if root else project_root()
    return f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}"


@dataclass(frozen=True)
class RunContext:
    """What a production run told the kernel it started (all ``None`` in an interactive kernel):
    ``run_id`` is set in every production execution (a job's or ``cellfleet run``'s), ``job_id``
    only in a job's; ``resume_from`` in a retry (or ``cellfleet run --resume``): the production run
    whose succeeded ``%%remote`` cells are restored instead of run again."""

    run_id: str | None
    job_id: str | None
    notebook: str | None
    resume_from: str | None = None


def run_context() -> RunContext:
    """The production run this process executes, if any."""
    notebook = _get(Variable.NOTEBOOK) or os.environ.get("JPY_SESSION_NAME") or None
    return RunContext(_get(Variable.RUN_ID), _get(Variable.JOB_ID), notebook, _get(Variable.RESUME_FROM))


def run_environment(
    run_id: str,
    notebook: str,
    url: str,
    job_id: str | None = None,
    scheduler: str | None = None,
    resume_from: str | None = None,
) -> dict[str, str]:
    """The variables that tell a notebook's kernel which production run it executes (and which
    earlier attempt it resumes: ``CELLFLEET_RESUME_FROM`` is always set, empty when none, so a
    resumed run's value never leaks into the next run of the same process)."""
    variables = {Variable.RUN_ID: run_id, Variable.NOTEBOOK: notebook, Variable.DB: url}
    if job_id:
        variables[Variable.JOB_ID] = job_id
    if scheduler:
        variables[Variable.SCHEDULER] = scheduler
    variables[Variable.RESUME_FROM] = resume_from or ""
    return {name.value: value for name, value in variables.items()}


def export_run_environment(variables: Mapping[str, str]) -> None:
    """Set ``variables`` (from :func:`run_environment`) in this process, for the kernel it starts."""
    os.environ.update(variables)


def with_store(url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child process's environment (``base``, default this one's) pointing at the store ``url``."""
    return {**(os.environ if base is None else base), Variable.DB.value: url}


def with_root(root: str | os.PathLike[str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child process's environment (``base``, default this one's) in the project at ``root``
    (the shared cluster's process, which records itself under ``ROOT/.cellfleet``)."""
    return {**(os.environ if base is None else base), Variable.ROOT.value: str(root)}


def store_url_from_environment() -> str | None:
    """``CELLFLEET_DB`` as set (for a child process told which store to use), else ``None``."""
    return _get(Variable.DB)

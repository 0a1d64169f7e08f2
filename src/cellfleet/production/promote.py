"""Promotion: an immutable, content-hashed snapshot of a notebook becomes a job.

The snapshot is what production runs, so later edits change nothing until the notebook is
promoted again. Parameters are checked against the notebook's papermill ``parameters``
cell and injected by papermill itself, never pasted into code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from cellfleet.config import project_root
from cellfleet.errors import PromotionError
from cellfleet.production.schedules import describe_schedule, next_run_text

if TYPE_CHECKING:
    from cellfleet.production.spec import JobSpec
    from cellfleet.store.database import Store

__all__ = ["Snapshot", "check_params", "materialize", "promote", "promotion_summary", "read_snapshot", "snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """A notebook version: its hash, where it was, and the file production runs."""

    digest: str
    source: Path
    path: Path
    parameters: dict[str, Any] | None
    """The parameters cell's names, or ``None`` when the notebook has no parameters cell."""


def _read(path: Path) -> str:
    if not path.exists():
        raise PromotionError(f"no notebook at {path}: check the path", problem="missing")
    if path.is_dir():
        raise PromotionError(f"{path} is a folder, not a notebook: give the .ipynb file")
    try:
        text = path.read_text(encoding="utf-8")
        nbformat.validate(nbformat.reads(text, as_version=4))
    except (UnicodeDecodeError, json.JSONDecodeError, nbformat.reader.NotJSONError, AttributeError, TypeError,
            KeyError) as error:  # fmt: skip
        raise PromotionError(
            f"{path} is not a Jupyter notebook ({type(error).__name__}): give an .ipynb file"
        ) from None
    except nbformat.ValidationError as error:
        first = str(error).splitlines()[0]
        raise PromotionError(f"{path} is not a valid notebook ({first}): open and save it in JupyterLab") from None
    return text


def read_snapshot(notebook: str | Path) -> tuple[Snapshot, str]:
    """Hash the notebook and write the file runs execute; returns the snapshot and its text."""
    source = Path(notebook).resolve()
    text = _read(source)
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = materialize(digest, text)
    return Snapshot(digest, source, path, _parameters(path)), text


def snapshot(notebook: str | Path, store: Store) -> Snapshot:
    """:func:`read_snapshot`, with the version's content kept in the store."""
    from cellfleet.store.jobs import JobStore

    snap, text = read_snapshot(notebook)
    JobStore(store).save_version(snap.digest, str(snap.source), text)
    return snap


def materialize(digest: str, text: str) -> Path:
    """The snapshot's file under ``.cellfleet/versions/`` (rewritten if it went missing)."""
    folder = project_root() / ".cellfleet" / "versions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}.ipynb"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path


def _parameters(path: Path) -> dict[str, Any] | None:
    from papermill import inspect_notebook

    notebook = nbformat.read(path, as_version=4)
    tagged = any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in notebook.cells)
    return dict(inspect_notebook(str(path))) if tagged else None


def check_params(snap: Snapshot, params: dict[str, Any]) -> None:
    """Every parameter must exist in the notebook's parameters cell."""
    if not params:
        return
    if snap.parameters is None:
        raise PromotionError(
            f"{snap.source.name} has no parameters cell, so -p {next(iter(params))} has nowhere to go: "
            "tag the cell that sets defaults with 'parameters' (cell toolbar → tags)"
        )
    unknown = sorted(set(params) - set(snap.parameters))
    if unknown:
        known = ", ".join(sorted(snap.parameters)) or "none"
        raise PromotionError(f"unknown parameter {unknown[0]!r}: the parameters cell defines {known}")


def promote(notebook: str | Path, spec: JobSpec, store: Store) -> dict[str, Any]:
    """Snapshot ``notebook`` and record it as a job made as ``spec`` says; returns the job.

    The job's params are those of ``spec.from_run``, updated by ``spec.params``.
    """
    from cellfleet.production.drift import promoted_environment
    from cellfleet.production.pipelines import check_after
    from cellfleet.store.jobs import JobStore

    source = _source_run(store, spec.from_run)
    params = {**dict((source or {}).get("params") or {}), **spec.params}
    name = spec.name or Path(notebook).stem
    check_after(JobStore(store), name, spec.after)
    snap = snapshot(notebook, store)
    check_params(snap, params)
    fields = {"name": name, "notebook": str(snap.source), "version": snap.digest, "params": params}
    environment = promoted_environment(store, source)
    job = JobStore(store).create_job(**fields, environment=environment, paused=spec.check, **spec.job_fields())
    if not spec.check:
        return job
    from cellfleet.production.check import check_job

    checked = check_job(store, job)
    return {**JobStore(store).get_job(job["id"]), "check_run": checked}


def promotion_summary(notebook: str | Path, job: Mapping[str, Any]) -> str:
    """The line ``cellfleet promote`` and ``%promote`` print for a new job."""
    next_run = next_run_text(job) or "when asked (cellfleet jobs run-now)"
    when = f"{describe_schedule(job['schedule'])}; next run {next_run}"
    if job.get("after"):
        when = f"next run after each successful run of job {job['after']}"
    checked = f"; checked by run {job['check_run']}, which succeeded" if job.get("check_run") else ""
    return f"promoted {notebook} as job {job['name']} ({job['id']}), version {job['version'][:12]}, {when}{checked}"


def _source_run(store: Store, run: str | None) -> dict[str, Any] | None:
    """The run ``--from-run`` names (an id or a unique prefix), or ``None`` without one."""
    if not run:
        return None
    matches = store.find_runs(run)
    if len(matches) != 1:
        raise PromotionError(f"--from-run {run}: no single run matches; list runs with `cellfleet runs ls`")
    return store.get_run(matches[0])

"""A cell ready to submit: its analysed code, its options, its cluster, and how it runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cellfleet.config import Settings
from cellfleet.ids import new_id
from cellfleet.kernel.analysis import CellAnalysis, cell_filename
from cellfleet.kernel.context import current_cell, notebook_path
from cellfleet.kernel.inputs import Inputs
from cellfleet.kernel.remote_cell import Launch, Output, RemoteCell
from cellfleet.kernel.session import Session
from cellfleet.store.recorder import RunRecorder, code_hash, writer_for
from cellfleet.worker.task import CellSpec

__all__ = ["Prepared"]


@dataclass(frozen=True)
class Prepared:
    """Everything decided about a ``%%remote`` cell before it is submitted."""

    label: str
    source: str
    analysis: CellAnalysis
    options: Any
    """The cell's :class:`~cellfleet.remote.RemoteOptions`."""
    settings: Settings
    session: Session
    launch: Launch

    def spec(self) -> CellSpec:
        """A fresh task description (each submission gets its own cell id)."""
        return CellSpec(
            cell_id=new_id(16),
            code=self.source,
            filename=cell_filename(self.label),
            writes=self.analysis.writes,
            displays_last=self.analysis.displays_last,
            threshold=self.settings.remote_threshold,
            keep=self.options.keep,
            pull=self.options.pull,
        )

    def recorder(self, shell: Any, inputs: Inputs, **fields: Any) -> RunRecorder:
        """A new run in the store for this cell (``kind`` defaults to ``interactive``)."""
        cell = current_cell()
        if os.environ.get("CELLFLEET_JOB_ID"):  # a %%remote cell of a production run
            fields = {**fields, "kind": "production", "job_id": os.environ["CELLFLEET_JOB_ID"]}
        return RunRecorder(
            writer_for(),
            notebook=cell.notebook or notebook_path(shell),
            cell_id=cell.cell_id,
            cell_name=self.label,
            code=self.source.lstrip("\n"),
            code_hash=code_hash(self.source),
            inputs=inputs.fingerprints(),
            **{"kind": "interactive", **fields},
        )

    def make_cell(self, inputs: Inputs, status: Any, output: Output, recorder: RunRecorder, params: Any = None) -> Any:
        """A :class:`RemoteCell`, or with ``--cache`` and a matching stored run, a :class:`CachedCell`."""
        if self.options.cache:
            from cellfleet.kernel.cache import CachedCell, lookup

            hit = lookup(self.source, inputs, params or {})
            if hit is not None:
                return CachedCell(hit, output, status, recorder)
        return RemoteCell(self.session, self.spec(), inputs, self.launch, status, output, recorder)

"""A cell ready to submit: its analysed code, its options, its cluster, and how it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cellfleet.config import Settings, run_context
from cellfleet.ids import new_id
from cellfleet.kernel.analysis import CellAnalysis, cell_filename
from cellfleet.kernel.codeprint import cell_code_hash
from cellfleet.kernel.context import current_cell, notebook_path, run_writer
from cellfleet.kernel.inputs import Inputs, notebook_only
from cellfleet.kernel.remote_cell import Launch
from cellfleet.kernel.session import Session
from cellfleet.protocol import CellSpec, RunKind
from cellfleet.store.recorder import RunRecorder

__all__ = ["Prepared", "cell_recorder"]


@dataclass(frozen=True)
class Prepared:
    """Everything decided about a ``%%remote`` cell before it is submitted."""

    label: str
    source: str
    analysis: CellAnalysis
    options: Any
    """The cell's :class:`~cellfleet.kernel.remote.RemoteOptions`."""
    settings: Settings
    session: Session
    launch: Launch

    def spec(self) -> CellSpec:
        """A fresh task description (each submission gets its own cell id, which starts with
        the session's token: unique to this kernel on a cluster that kernels share)."""
        return CellSpec(
            cell_id=f"{self.session.token}{new_id(16)}",
            code=self.source,
            filename=cell_filename(self.label),
            writes=self.analysis.writes,
            displays_last=self.analysis.displays_last,
            threshold=self.settings.remote_threshold,
            keep=self.options.keep | self.options.publish,
            pull=self.options.pull,
            unavailable=notebook_only(self.analysis.reads),
            writable=self.analysis.changed_in_place & self.analysis.reads,
        )

    def recorder(self, shell: Any, inputs: Inputs, **fields: Any) -> RunRecorder:
        """A new run in the store for this cell (see :func:`cell_recorder`)."""
        return cell_recorder(shell, self.label, self.source, inputs, **fields)


def cell_recorder(shell: Any, label: str, source: str, inputs: Inputs, **fields: Any) -> RunRecorder:
    """A new run in the store for a ``%%remote`` cell (``kind`` defaults to ``interactive``;
    inside a production run it is ``production``, linked to that run and its job)."""
    cell = current_cell()
    production = run_context()
    if production.run_id:  # a %%remote cell inside a production run (the scheduler's or `cellfleet run`'s)
        fields = {**fields, "kind": RunKind.PRODUCTION, "parent_id": production.run_id}
        if production.job_id:
            fields["job_id"] = production.job_id
    return RunRecorder(
        run_writer(),
        notebook=cell.notebook or notebook_path(shell),
        cell_id=cell.cell_id,
        cell_name=label,
        code=source.lstrip("\n"),
        code_hash=cell_code_hash(source),
        inputs=inputs.fingerprints(),
        **{"kind": RunKind.INTERACTIVE, **fields},
    )

"""``--cache``: a cell whose code, inputs and params match a succeeded run with stored
results is not run again; its results and output are restored from the store.

What can be cached: results that came back to the notebook (pickled into the store). A
run that kept results on the cluster (handles) stores nothing and is never a cache hit,
because its data does not outlive the cluster. Inputs are matched by a digest of their
pickled bytes: plain data matches across kernel restarts; functions defined in a kernel
and remote handles do not (their pickles name the kernel that made them).

The output is stored in its wire form (:func:`~cellfleet.protocol.encode_item`), so a
stored run does not depend on how the item classes are pickled.

Resuming uses the same machinery: a ``%%remote`` cell inside a production run always stores
its results (up to :data:`RESTORE_LIMIT`), and a retry of that run (or ``cellfleet run
--resume RUN``) restores each cell that matches one the attempt it resumes ran
(:func:`restore`), marked "restored from attempt N". Results kept on the cluster are not
stored, so their cells run again: an embedded cluster ends with the kernel that started it.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cellfleet.kernel.codeprint import cell_code_hash
from cellfleet.kernel.context import run_writer
from cellfleet.kernel.inputs import Inputs
from cellfleet.kernel.job import Output, Status, load_values
from cellfleet.protocol import CellOutcome, DisplayItem, OutputItem, RunStatus, StreamItem, decode_item, encode_item
from cellfleet.store.attempts import Restorable, find_restorable
from cellfleet.store.database import Store, encode_json
from cellfleet.store.recorder import RunRecorder

__all__ = ["RESTORE_LIMIT", "CacheHit", "CachedCell", "lookup", "restore", "save"]

RESTORE_LIMIT = 64 * 2**20
"""Bytes of pickled results a production run's remote cell stores for a retry to restore;
a cell whose results are larger runs again in the retry."""


@dataclass(frozen=True)
class CacheHit:
    """A stored run whose results stand in for running the cell."""

    run_id: str
    outcome: CellOutcome
    outputs: tuple[OutputItem, ...]
    metrics: dict[str, float]
    """The stored run's final metrics."""
    origin: Restorable | None = None
    """Set when the hit restores a cell of an earlier attempt of this production run."""

    def note(self) -> str:
        """The line the cell's output shows for it."""
        if self.origin is None:
            return f"cellfleet: cache hit: results restored from run {self.run_id}, not run again\n"
        return self.origin.note()


def lookup(source: str, inputs: Inputs, params: dict[str, Any]) -> CacheHit | None:
    """The newest matching succeeded run with stored results, if any (none while tracking is off)."""
    writer = run_writer()
    writer.flush()  # runs saved moments ago count too
    store = writer.store
    if store is None:
        return None
    run_id = store.find_cached(cell_code_hash(source), encode_json(inputs.fingerprints()), encode_json(params))
    return _hit(store, run_id) if run_id else None


def restore(resumed: str, source: str, inputs: Inputs, params: dict[str, Any]) -> CacheHit | None:
    """The results of the cell as the production run ``resumed`` ran it (same code, inputs
    and params, succeeded, results stored), if any (none while tracking is off)."""
    writer = run_writer()
    store = writer.store
    if store is None:
        return None
    key = (cell_code_hash(source), encode_json(inputs.fingerprints()), encode_json(params))
    origin = find_restorable(store, resumed, *key)
    hit = _hit(store, origin.cell_run) if origin is not None else None
    return CacheHit(hit.run_id, hit.outcome, hit.outputs, hit.metrics, origin) if hit else None


def _hit(store: Store, run_id: str) -> CacheHit | None:
    """The stored results of ``run_id`` as a hit; ``None`` when it stored none."""
    blob = store.load_results(run_id)
    if blob is None:
        return None
    stored = pickle.loads(blob)
    outcome = CellOutcome(
        worker=None,
        gpu=None,
        stash="",
        values=stored["values"],
        result=stored["result"],
        mutated=tuple(stored.get("mutated", ())),  # absent from results stored before they were kept
        deleted=tuple(stored.get("deleted", ())),
    )
    outputs = tuple(decode_item(wire) for wire in stored["outputs"])
    return CacheHit(run_id, outcome, outputs, store.final_metrics([run_id]).get(run_id, {}))


def save(recorder: RunRecorder, outcome: CellOutcome, outputs: Sequence[OutputItem], limit: int | None = None) -> bool:
    """Store a succeeded run's results for later cache hits (and retries); False when some
    stayed on the cluster (kept, or persisted collections: their data ends with the cluster),
    or when their pickle is over ``limit`` bytes."""
    if outcome.kept or outcome.persisted or outcome.error is not None:
        return False
    wire = [encode_item(item) for item in outputs]
    stored: dict[str, Any] = {"values": outcome.values, "result": outcome.result, "outputs": wire}
    stored.update(mutated=list(outcome.mutated), deleted=list(outcome.deleted))
    blob = pickle.dumps(stored, protocol=5)
    if limit is not None and len(blob) > limit:
        return False
    recorder.writer.call(lambda store: store.save_results(recorder.run_id, blob))
    return True


class CachedCell:
    """Stands in for a :class:`~cellfleet.kernel.remote_cell.RemoteCell` on a cache hit
    (a :class:`~cellfleet.kernel.job.CellJob`)."""

    def __init__(self, hit: CacheHit, output: Output, status: Status, recorder: RunRecorder) -> None:
        self.hit = hit
        self.output = output
        self.status = status
        self.recorder = recorder

    def run(self) -> CellOutcome:
        """Replay the stored output and record a succeeded run pointing at the stored one
        (``cached_from``)."""
        for item in self.hit.outputs:
            if isinstance(item, StreamItem):
                self.output.stream(item.name, item.text)
                self.recorder.stream(item.text)
            elif isinstance(item, DisplayItem):
                self.output.display(item.data, item.metadata)
        self.output.stream("stderr", self.hit.note())
        if self.hit.origin is not None:  # a restored cell's metrics count for its run (and its --expect)
            self.recorder.metric(self.hit.metrics, None, time.time())
        self.recorder.latest.update(self.hit.metrics)
        self.status.finished("cached" if self.hit.origin is None else "restored")
        self.recorder.finish(RunStatus.SUCCEEDED, cached_from=self.hit.run_id)
        return self.hit.outcome

    def cancel(self) -> None:
        """Nothing runs, so nothing to stop."""

    def collect(self, outcome: CellOutcome) -> dict[str, Any]:
        """The stored values, unpickled."""
        return load_values(outcome, self.output)

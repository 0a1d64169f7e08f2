"""The worker's output capture builds typed batches (real Capture objects, no cluster needed)."""

from __future__ import annotations

import pytest

from cellfleet.protocol import DisplayItem, MetricItem, OutputBatch, Started, StreamItem
from cellfleet.worker import capture as capture_module
from cellfleet.worker.capture import Capture


@pytest.fixture(autouse=True)
def _no_timed_flush(monkeypatch):
    """Batches are sent by a display or an explicit flush only, however slow the machine."""
    monkeypatch.setattr(capture_module, "FLUSH_INTERVAL", 3600.0)


def test_capture_sends_typed_batches_with_consecutive_text_merged():
    sent = []
    capture = Capture(sent.append, "c1", Started("c1", "tcp://w:1", None))
    capture.write("stdout", "a")
    capture.write("stdout", "b")
    capture.write("stderr", "oops")
    capture.display({"text/plain": "shown"}, {})  # a display sends at once
    capture.write("stdout", "tail")
    assert sent == [
        Started("c1", "tcp://w:1", None),
        OutputBatch(
            "c1",
            0,
            (StreamItem("stdout", "ab"), StreamItem("stderr", "oops"), DisplayItem({"text/plain": "shown"}, {})),
        ),
    ]
    assert capture.remainder() == [StreamItem("stdout", "tail")]
    assert capture.events_sent == 1


def test_capture_without_a_way_to_send_keeps_everything_for_the_result():
    capture = Capture(None, "c1")
    capture.write("stdout", "x")
    capture.metric({"loss": 1.0}, step=0)
    capture.artifact("a.txt", b"data", "text/plain")
    capture.flush()
    first, second = capture.remainder()
    assert first == StreamItem("stdout", "x") and isinstance(second, MetricItem) and second.step == 0
    assert [(a.name, a.data) for a in capture.artifacts] == [("a.txt", b"data")]

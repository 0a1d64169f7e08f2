"""The typed records that cross process boundaries, and the worker's capture that builds them."""

from __future__ import annotations

import pytest

from cellfleet.protocol import (
    DisplayItem,
    MetricItem,
    OutcomeReady,
    OutputBatch,
    Started,
    StreamItem,
    decode_event,
    decode_item,
    encode_event,
    encode_item,
)
from cellfleet.worker import capture as capture_module
from cellfleet.worker.capture import Capture


@pytest.fixture(autouse=True)
def _no_timed_flush(monkeypatch):
    """Batches are sent by a display or an explicit flush only, however slow the machine."""
    monkeypatch.setattr(capture_module, "FLUSH_INTERVAL", 3600.0)


def test_every_event_survives_its_wire_form():
    items = (StreamItem("stdout", "hi\n"), DisplayItem({"text/plain": "x"}, {}), MetricItem({"loss": 0.5}, 3, 1.0))
    for event in (Started("c1", "tcp://w:1", "GPU 0: H200"), OutputBatch("c1", 2, items), OutcomeReady("c1", b"x")):
        wire = encode_event(event)
        assert all(not hasattr(value, "__dataclass_fields__") for value in wire.values())  # plain data only
        assert decode_event(wire) == event


def test_unknown_wire_forms_are_refused():
    with pytest.raises(ValueError, match="unknown cell event"):
        decode_event({"cell": "c1", "kind": "gossip"})
    with pytest.raises(ValueError, match="unknown output item"):
        decode_item({"kind": "smell"})
    assert decode_item(encode_item(MetricItem({"a": 1.0}, None, 2.0))).step is None


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

"""The typed records that cross process boundaries: one wire form each way."""

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

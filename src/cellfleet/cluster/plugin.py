"""The shared cluster's scheduler plugin: what a scheduler that outlives many kernels needs.

* **Cell events are not kept.** Each kernel session streams its cells' events (start, output,
  outcome) on a topic of its own, ``cellfleet-<token>`` (:data:`KERNEL_TOPIC_PREFIX`). A
  scheduler keeps the last 100,000 events of every topic for ``get_events``; an embedded
  cluster ends with its kernel, but the shared one would keep every kernel's output for good.
  The events are handed to the subscribed kernel as they are logged, and nothing reads them
  later, so the plugin empties a cellfleet topic as soon as each event has been sent.
* **Messages go sooner.** Dask batches the scheduler's messages to clients (2 ms) and to
  workers (5 ms); the plugin shortens both to 1 ms for each client and worker that connects,
  as the embedded cluster does (:func:`cellfleet.kernel.session.connect`). The intervals are
  private attributes; on a Dask that renamed them only latency changes.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

__all__ = ["BATCH_INTERVAL", "KERNEL_TOPIC_PREFIX", "SharedScheduler"]

KERNEL_TOPIC_PREFIX = "cellfleet-"
"""The start of every kernel session's cell-event topic."""
BATCH_INTERVAL = 0.001
"""Seconds between batched sends on the shared cluster's streams."""


class SharedScheduler(SchedulerPlugin):
    """Empties the kernels' event topics once delivered; shortens message batching."""

    name = "cellfleet-shared"

    def __init__(self) -> None:
        self.scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def add_client(self, scheduler: Any, client: str) -> None:
        scheduler.loop.add_callback(_shorten, scheduler)  # the client's stream is made just after this hook

    def add_worker(self, scheduler: Any, worker: str) -> None:
        scheduler.loop.add_callback(_shorten, scheduler)

    def log_event(self, topic: str, msg: Any) -> None:
        broker = getattr(self.scheduler, "_broker", None)
        if topic.startswith(KERNEL_TOPIC_PREFIX) and broker is not None:
            broker.truncate(topic)  # called after the event went to the topic's subscribers


def _shorten(scheduler: Any) -> None:
    for streams in (getattr(scheduler, "client_comms", {}), getattr(scheduler, "stream_comms", {})):
        for stream in list(streams.values()):
            if hasattr(stream, "interval"):
                stream.interval = BATCH_INTERVAL

"""Turning ``gpu``/``--gpus``/``--cpus``/``--memory`` into Dask resources a worker offers.

A request no worker can meet is an error listing what the workers offer, decided before
anything is submitted: a cell never waits forever for a GPU that does not exist. Only the
workers that can run cells count (:mod:`cellfleet.kernel.workers`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from cellfleet.errors import NoGPUError, ResourceUnavailable
from cellfleet.kernel.session import Session, worker_offers
from cellfleet.kernel.workers import fitting, usable_workers

__all__ = ["Request", "resolve"]


@dataclass(frozen=True)
class Request:
    """What a cell asks for."""

    gpus: int = 0
    cpus: float | None = None
    memory: int | None = None
    require_gpu: bool = False

    def resources(self) -> dict[str, float]:
        wanted: dict[str, float] = {}
        if self.gpus:
            wanted["GPU"] = self.gpus
        if self.cpus:
            wanted["CPU"] = self.cpus
        if self.memory:
            wanted["MEMORY"] = self.memory
        return wanted


def _offers(workers: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{address} ({worker_offers(info)})" for address, info in sorted(workers.items()))


def resolve(request: Request, session: Session) -> dict[str, float] | None:
    """The resources to submit with, or an error that says what the workers offer.

    On the embedded (or shared) cluster of a machine without GPUs a GPU request runs on CPU with a
    one-line warning (once per session), unless a GPU is required.
    """
    wanted = request.resources()
    if not wanted:
        return None
    workers = usable_workers(session)  # of a cluster someone else runs, those that can run cells
    if not workers:
        return wanted  # an adaptive cluster may still be adding workers: let the cell wait for one
    if "GPU" in wanted and not fitting(workers, {"GPU": 1}):
        wanted = _without_gpu(request, session, wanted, workers)
    if wanted and not fitting(workers, wanted):
        asked = ", ".join(f"{k}={v:g}" for k, v in wanted.items())
        raise ResourceUnavailable(
            f"no worker offers {asked}; the workers offer: {_offers(workers)}. "
            "Ask for less, or start workers with more (dask worker --resources ...)"
        )
    return wanted or None


def _without_gpu(
    request: Request, session: Session, wanted: dict[str, float], workers: dict[str, dict[str, Any]]
) -> dict[str, float]:
    if not session.local:
        raise ResourceUnavailable(
            f"the cell asks for a GPU but no worker of the cluster at {session.address} offers one "
            f"(the workers offer: {_offers(workers)}): start GPU workers with --resources GPU=1 "
            "(dask-cuda does), or run the cell with %%remote cpu"
        )
    if request.require_gpu:
        raise NoGPUError(
            "the cell requires a GPU but this machine has none visible to NVML: run on a GPU machine, "
            "point --cluster at a cluster with GPU workers, or drop --require-gpu / CELLFLEET_REQUIRE_GPU"
        )
    if not session.warned_no_gpu:
        session.warned_no_gpu = True
        which = "embedded" if session.embedded else "shared"
        print(
            f"cellfleet: no GPU on this machine, so gpu cells run on the CPU workers of the {which} cluster "
            "(--require-gpu makes this an error)",
            file=sys.stderr,
            flush=True,
        )
    return {k: v for k, v in wanted.items() if k != "GPU"}

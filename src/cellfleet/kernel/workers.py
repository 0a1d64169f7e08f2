"""Which workers of a cluster someone else runs can run cells, found before a cell goes there.

A worker whose environment lacks cellfleet, or has other versions of the packages that
matter (:data:`PACKAGES`, and Python's major.minor), crashes on a cell's task, and the cell
would wait "queued" for ever. So each new worker is checked once per session (by address):
distributed's own ``versions`` handler (:meth:`Client.get_versions`), which answers where
cellfleet cannot import, gives its versions, and a call of :func:`cellfleet.worker.task.ready`
shows that it loads cellfleet's task code. A bad worker is reported once, in one line naming
it and the fix; cells are restricted (``workers=``) to the good ones, and a cluster whose
workers are all bad is a :class:`~cellfleet.errors.ClusterError`. The embedded cluster runs
this very environment and is not checked, nor is the project's shared cluster when it runs the
kernel's own environment (``sys.prefix``) and cellfleet version.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from cellfleet.cluster.launch import describe
from cellfleet.cluster.record import discover, paths
from cellfleet.errors import ClusterError
from cellfleet.kernel.job import Output, Status
from cellfleet.kernel.session import Session, connect, describe_session, sessions

__all__ = [
    "NO_WORKERS_AFTER",
    "PACKAGES",
    "Placement",
    "Workers",
    "check_workers",
    "describe_clusters",
    "fitting",
    "usable_workers",
    "worker_problems",
]

PACKAGES = ("cellfleet", "dask", "distributed", "cloudpickle")
"""The packages whose versions a worker must share with the notebook."""

Workers = dict[str, dict[str, Any]]
"""Worker address → what the scheduler says of it (``scheduler_info()["workers"]``)."""

NO_WORKERS_AFTER = 3.0
"""Seconds a cell waits with no worker to run on before its status (and one stderr line) says so."""
_RECHECK = 1.0
"""Seconds between checks, while a cell waits or runs, that a worker it may use still lives."""


class Placement:
    """The workers one cell may run on, on a cluster someone else runs, kept true while it waits.

    :meth:`choose` picks the good workers that offer the cell's resources (none while the
    cluster has none: the cell waits, saying so after :data:`NO_WORKERS_AFTER` seconds);
    :meth:`moved` notices, while the cell is queued or running, that none of the workers it
    was sent to lives any more, and picks new ones to send it to. On the embedded cluster
    both answer ``None``: any worker.
    """

    def __init__(self, session: Session, resources: Mapping[str, float] | None, output: Output, status: Status):
        self.session = session
        self.resources = resources
        self.output = output
        self.status = status
        self.allowed: frozenset[str] | None = None
        self._checked = 0.0
        self._short_since: float | None = None
        self._noted = False
        self._told = False

    def choose(self) -> list[str] | None:
        """The workers to send the cell to now: ``None`` for any, empty while none can take it."""
        if self.session.trusted:
            return None
        try:
            workers = self.session.workers()
        except OSError:  # the scheduler is going: the cell's next check says so
            return []
        good = fitting(usable_workers(self.session, workers, self._tell), self.resources)
        self._short(not good, workers)
        self.allowed = frozenset(good)
        return sorted(good)

    def moved(self) -> list[str] | None:
        """New workers to send the cell to, when none it was sent to lives (checked at most every
        second); ``None`` while it can stay where it is, or nowhere is better yet."""
        if self.allowed is None or time.monotonic() - self._checked < _RECHECK:
            return None
        self._checked = time.monotonic()
        try:
            alive = self.session.workers()
        except OSError:
            return None
        if self.allowed & fitting(alive, self.resources).keys():
            return None
        return self.choose() or None

    def _short(self, short: bool, workers: Workers) -> None:
        """Say, after a while without a worker for the cell, that it waits for one (status, and once stderr)."""
        if not short:
            if self._noted:
                self.status.note("queued")
            self._short_since, self._noted = None, False
            return
        now = time.monotonic()
        if self._short_since is None:
            self._short_since = now
        if self._noted or now - self._short_since < NO_WORKERS_AFTER:
            return
        self._noted = True
        self.status.note("waiting for workers")
        if not self._told:
            self._told = True
            self.output.stream("stderr", f"cellfleet: {self._why(workers)}\n")

    def _tell(self, line: str) -> None:
        self.output.stream("stderr", f"{line}\n")

    def _why(self, workers: Workers) -> str:
        address = self.session.address
        waits = "the cell waits for one (an adaptive cluster adds them); --timeout or the stop button ends the wait"
        if not workers:
            return f"the cluster at {address} has no workers: start one (dask worker {address}); {waits}"
        if not self.resources:
            return f"no worker of the cluster at {address} has answered cellfleet's check yet; {waits}"
        asked = ", ".join(f"{kind}={amount:g}" for kind, amount in self.resources.items())
        return f"no worker of the cluster at {address} that can run cells offers {asked} now: start one; {waits}"


def usable_workers(
    session: Session, workers: Workers | None = None, tell: Callable[[str], None] | None = None
) -> Workers:
    """The workers cells may run on (``workers``: the cluster's now, by default).

    All of an embedded cluster's; of another cluster, those checked good, checking new
    ones now and reporting a bad one once, in a line to ``tell`` (default: stderr). Empty
    when the cluster has no worker (yet); :class:`ClusterError` when it has workers and
    every one is bad.
    """
    workers = session.workers() if workers is None else workers
    if session.trusted:
        return workers
    found = _check_new(session, workers)
    good = {address: info for address, info in workers.items() if address in session.verdicts}
    good = {address: info for address, info in good.items() if session.verdicts[address] is None}
    bad = worker_problems(session, workers)
    if bad and not good:
        named = [bad[address] for address in sorted(bad)[:3]]
        more = f" (and {len(bad) - 3} more workers)" if len(bad) > 3 else ""
        raise ClusterError(f"no worker of the cluster at {session.address} can run cells: {'; '.join(named)}{more}")
    for address in sorted(address for address, problem in found.items() if problem):
        (tell or _to_stderr)(f"cellfleet: {found[address]}; cells run on the other workers")
    return good


def _check_new(session: Session, workers: Workers) -> dict[str, str | None]:
    """Check the workers not checked before in ``session``; returns what was found of them."""
    new = [address for address in workers if address not in session.verdicts]
    if not new:
        return {}
    found = check_workers(session.client, new)
    session.verdicts.update(found)
    return found


def describe_clusters(address: str | None, configured: str | None) -> str:
    """What ``%cellfleet status`` prints: the cluster at ``address``; else each cluster this kernel
    uses, else the ``configured`` one. It never starts the embedded cluster to describe it."""
    chosen = [connect(address)] if address else sessions.current()
    if not chosen and configured:
        chosen = [connect(configured)]
    if not chosen:
        shared = discover(paths().record).record
        if shared is not None:  # described from its record: connecting is the next cell's business
            return f"{describe(shared)}\n(this kernel's next %%remote cell runs there)"
        return (
            "cellfleet: no cluster is in use by this kernel: the embedded cluster starts with the first "
            "%%remote cell (%cellfleet status --cluster ADDRESS describes another)"
        )
    return "\n\n".join(_describe_one(session) for session in chosen)


def _describe_one(session: Session) -> str:
    if not session.alive or session.trusted:
        return describe_session(session)
    try:
        workers = session.workers()
        _check_new(session, workers)
    except OSError:  # it went away just now
        return describe_session(session)
    return describe_session(session, worker_problems(session, workers))


def worker_problems(session: Session, workers: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with each of ``workers`` found bad in ``session`` (from the checks made)."""
    return {address: problem for address in workers if (problem := session.verdicts.get(address))}


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def fitting(workers: Workers, resources: Mapping[str, float] | None) -> Workers:
    """The ``workers`` that offer ``resources``."""
    if not resources:
        return workers
    return {
        address: info
        for address, info in workers.items()
        if all((info.get("resources") or {}).get(kind, 0) >= amount for kind, amount in resources.items())
    }


def check_workers(client: Any, addresses: list[str]) -> dict[str, str | None]:
    """Each worker's problem, or ``None`` when it can run cells; those that did not answer
    (gone, or going) are left out, to be checked again."""
    from cellfleet.worker.task import ready

    wanted = _notebook_versions()
    versions = client.get_versions(packages=["cellfleet"]).get("workers", {})
    loaded = client.run(ready, workers=addresses, on_error="return")
    verdicts: dict[str, str | None] = {}
    for address in addresses:
        answer, reported = loaded.get(address), versions.get(address)
        if address not in loaded or isinstance(answer, OSError):
            continue
        if isinstance(answer, BaseException):
            version = wanted["cellfleet"]
            verdicts[address] = (
                f"worker {address} cannot import cellfleet ({_describe(answer)}): install cellfleet {version} "
                f"in its environment (pip install cellfleet=={version}) and restart it"
            )
        elif isinstance(reported, dict):
            verdicts[address] = _mismatch(address, {**_versions_of(reported), "cellfleet": str(answer)}, wanted)
    return verdicts


def _notebook_versions() -> dict[str, str | None]:
    from distributed.versions import get_versions

    from cellfleet._version import __version__

    return {**_versions_of(get_versions(packages=list(PACKAGES))), "cellfleet": __version__}


def _versions_of(report: Mapping[str, Any]) -> dict[str, str | None]:
    """The versions that matter in one ``get_versions`` report (Python as major.minor)."""
    packages = report.get("packages") or {}
    python = str((report.get("host") or {}).get("python") or packages.get("python") or "")
    found: dict[str, str | None] = {name: packages.get(name) for name in PACKAGES}
    found["python"] = ".".join(python.split(".")[:2]) or None
    return found


def _mismatch(address: str, found: Mapping[str, str | None], wanted: Mapping[str, str | None]) -> str | None:
    differ = [name for name, version in wanted.items() if version is not None and found.get(name) != version]
    if not differ:
        return None
    has = ", ".join(f"{name} {found.get(name) or 'missing'} (the notebook has {wanted[name]})" for name in differ)
    fixes = []
    pins = [f"{name}=={wanted[name]}" for name in differ if name != "python"]
    if pins:
        fixes.append(f"install the notebook's versions in its environment (pip install {' '.join(pins)})")
    if "python" in differ:
        fixes.append(f"run it on Python {wanted['python']}")
    return f"worker {address} has {has}: {' and '.join(fixes)}, and restart it"


def _describe(error: BaseException) -> str:
    """An error a worker sent: distributed wraps some as ``Exception("ModuleNotFoundError(...)")``."""
    if type(error) is Exception and error.args and isinstance(error.args[0], str):
        return error.args[0]
    return f"{type(error).__name__}: {error}"

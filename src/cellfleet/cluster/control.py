"""``python -m cellfleet.cluster.control restart-workers ADDRESS``: a short-lived Dask client
that restarts every worker of the shared cluster (``Client.restart``), run by
``cellfleet cluster restart-workers`` (:func:`cellfleet.cluster.launch.restart_workers`),
since the CLI never imports Dask.

Each worker process is replaced by a fresh one that runs the preloads again; what the
workers held (results kept on the cluster, in every kernel) is gone, and cells running on
them fail. Prints one line; exit status 1 when it failed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

__all__ = ["RESTART_TIMEOUT", "main", "restart_workers"]

RESTART_TIMEOUT = 90.0
"""Seconds the workers may take to come back."""
_CONNECT_TIMEOUT = "10s"


def restart_workers(address: str) -> str:
    """Restart the workers of the cluster at ``address``; returns the line to print."""
    from distributed import Client

    started = time.monotonic()
    with Client(address, timeout=_CONNECT_TIMEOUT, set_as_default=False) as client:
        before = set(client.scheduler_info(n_workers=-1)["workers"])
        client.restart(timeout=RESTART_TIMEOUT, wait_for_workers=True)
        after = set(client.scheduler_info(n_workers=-1)["workers"])
    took = time.monotonic() - started
    workers = f"the {len(before)} workers of the shared cluster at {address}"
    return f"cellfleet: restarted {workers} in {took:.1f} s ({len(after)} up)"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if len(words) != 2 or words[0] != "restart-workers":
        print("cellfleet: error: usage: python -m cellfleet.cluster.control restart-workers ADDRESS", file=sys.stderr)
        return 2
    try:
        print(restart_workers(words[1]), flush=True)
    except Exception as error:  # one line, shown by `cellfleet cluster restart-workers`
        detail = " ".join(str(error).split()) or "no detail"
        print(
            f"cellfleet: restarting the workers at {words[1]} failed ({type(error).__name__}: {detail})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

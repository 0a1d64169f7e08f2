"""A synthetic experiment store for the panel and API benchmarks: many variant runs with
metric series, or one search's trials, inserted in bulk."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import nbformat
import sqlalchemy as sa

from cellfleet.store.database import Store
from cellfleet.store.schema import metrics, runs

__all__ = ["build_search_store", "build_store"]


def build_store(folder: Path, n_runs: int, steps: int, notebook: str = "bench.ipynb") -> list[str]:
    """A store of ``n_runs`` variant runs of ``notebook`` in 50 cells, each with a loss and an
    accuracy series of ``steps`` points, inserted in bulk; returns the run ids, oldest first."""
    store = Store(f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}")
    rng, now = random.Random(0), time.time()
    run_rows, point_rows = [], []
    for i in range(n_runs):
        run_id = uuid.uuid4().hex[:12]
        created = now - (n_runs - i)
        params = {"lr": rng.choice([0.1, 0.01, 0.001]), "batch": rng.choice([32, 64, 128]), "seed": i}
        run_rows.append(dict(id=run_id, notebook=notebook, cell_id=f"c{i % 50}", cell_name=f"In [{i % 50}]",
                             kind="variant", status="succeeded", params=json.dumps(params), variant=i % 8,
                             created=created, started=created, ended=created + 5.0))  # fmt: skip
        for step in range(steps):
            loss = 1.0 / (1 + step * params["lr"] * 10)
            point_rows.append(dict(run_id=run_id, key="loss", step=step, value=loss, logged=created))
            point_rows.append(dict(run_id=run_id, key="accuracy", step=step, value=1 - loss / 2, logged=created))
    _insert(store, run_rows, point_rows)
    _write_notebook(folder / notebook)
    return [row["id"] for row in run_rows]


def _insert(store: Store, run_rows: list[dict], point_rows: list[dict]) -> None:
    with store.engine.begin() as connection:
        connection.execute(sa.insert(runs), run_rows)
        connection.execute(sa.insert(metrics), point_rows)


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("lr = 0.1")]
    nbformat.write(nb, path)


def _trial_status(rng: random.Random, number: int, trials: int) -> str:
    """Mostly finished, a quarter pruned, a few failed; the newest four still running."""
    if number >= trials - 4:
        return "running"
    draw = rng.random()
    return "pruned" if draw < 0.25 else "failed" if draw < 0.28 else "succeeded"


def _trial_steps(rng: random.Random, status: str, steps: int) -> int:
    """How many points a trial logged: all of them when it finished, fewer when it stopped."""
    if status == "succeeded":
        return steps
    return rng.randint(max(1, steps // 10), max(1, steps * 6 // 10))


def build_search_store(
    folder: Path, trials: int = 1000, steps: int = 100, notebook: str = "study.ipynb"
) -> tuple[str, list[str]]:
    """A store holding one ``%%remote --search`` of ``notebook``: ``trials`` runs of kind
    ``trial`` in one run group (``variant`` the trial number; params ``lr`` (log-uniform),
    ``layers`` (1-8) and ``act``; ``directions`` ``{"loss": "min"}``), mostly succeeded, some
    pruned or failed, the last four running; each logs ``loss`` at steps 0.. (``steps`` points
    when it finished, fewer when it stopped), one point every 0.5 s of its wall time. Returns
    the group id and the trial run ids by trial number."""
    store = Store(f"sqlite:///{folder / '.cellfleet' / 'cellfleet.db'}")
    rng, now = random.Random(0), time.time()
    group_id = uuid.uuid4().hex[:12]
    run_rows, point_rows = [], []
    for number in range(trials):
        run_id = uuid.uuid4().hex[:12]
        created = now - 2 * (trials - number)
        params = {
            "lr": 10 ** rng.uniform(-4, -1),
            "layers": rng.randint(1, 8),
            "act": rng.choice(["relu", "gelu", "tanh"]),
        }
        status = _trial_status(rng, number, trials)
        logged = _trial_steps(rng, status, steps)
        finished = status != "running"
        run_rows.append(dict(id=run_id, notebook=notebook, cell_id="search", cell_name="In [2]", kind="trial",
                             status=status, params=json.dumps(params), group_id=group_id, variant=number,
                             directions=json.dumps({"loss": "min"}), created=created, started=created,
                             ended=created + 0.5 * logged if finished else None))  # fmt: skip
        rate = params["lr"] * (1 + params["layers"] / 8) * (1.2 if params["act"] == "gelu" else 1.0)
        for step in range(logged):
            loss = 1.0 / (1 + step * rate * 50) + rng.gauss(0, 0.01)
            point_rows.append(dict(run_id=run_id, key="loss", step=step, value=loss, logged=created + 0.5 * step))
    _insert(store, run_rows, point_rows)
    _write_notebook(folder / notebook)
    return group_id, [row["id"] for row in run_rows]

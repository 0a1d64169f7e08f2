"""A synthetic experiment store for the panel and API benchmarks: many variant runs with
metric series, inserted in bulk."""

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

__all__ = ["build_store"]


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
    with store.engine.begin() as connection:
        connection.execute(sa.insert(runs), run_rows)
        connection.execute(sa.insert(metrics), point_rows)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("lr = 0.1")]
    nbformat.write(nb, folder / notebook)
    return [row["id"] for row in run_rows]

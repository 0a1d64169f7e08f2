"""Notebooks as the server names them: a run recorded with an absolute path inside the server
root is listed, filtered and linked relative to it (the way JupyterLab names the notebook)."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from cellfleet.server.paths import notebook_spellings, shown_runs
from cellfleet.store.database import Store
from jobs_helpers import write_notebook


@pytest.fixture
def jp_root_dir(jp_home_dir):
    """The server's root inside the home folder, as usual: Jupyter then shows it as ``~/work``."""
    root = jp_home_dir / "work"
    root.mkdir()
    return root


async def test_a_root_inside_the_home_folder_resolves(jp_fetch, jp_root_dir, jp_serverapp, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))
    assert jp_serverapp.web_app.settings["server_root_dir"].startswith("~")
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    body = json.dumps({"notebook": "train.ipynb", "name": "nightly", "cron": "0 2 * * *"})
    response = await jp_fetch("cellfleet", "api", "jobs", method="POST", body=body)
    assert response.code == 201 and json.loads(response.body)["notebook"] == str(jp_root_dir / "train.ipynb")


async def get(jp_fetch, *path: str, **params: str):
    response = await jp_fetch("cellfleet", "api", *path, params=params)
    return json.loads(response.body)


async def test_absolute_notebook_paths_are_listed_relative_to_the_root(jp_fetch, jp_root_dir, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))
    store = Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")
    notebook = jp_root_dir / "work" / "train.ipynb"
    output = jp_root_dir / ".cellfleet" / "outputs" / "run.ipynb"
    absolute = store.create_run(notebook=str(notebook), kind="production", output_path=str(output))
    relative = store.create_run(notebook="work/train.ipynb", kind="variant")
    store.create_run(notebook=str(jp_root_dir / "other.ipynb"), kind="variant")

    page = await get(jp_fetch, "runs", notebook="work/train.ipynb")
    assert sorted(run["id"] for run in page["runs"]) == sorted([absolute, relative]) and page["total"] == 2
    assert {run["notebook"] for run in page["runs"]} == {"work/train.ipynb"}
    detail = await get(jp_fetch, "runs", absolute)
    assert detail["run"]["output_notebook"] == ".cellfleet/outputs/run.ipynb"
    assert (await get(jp_fetch, "changes", since="0"))["runs"][0]["notebook"] in {"work/train.ipynb", "other.ipynb"}


def test_paths_outside_the_root_stay_as_recorded(tmp_path):
    (run,) = shown_runs([{"notebook": "/elsewhere/a.ipynb", "output_path": "/elsewhere/out.ipynb"}], tmp_path)
    assert (run["notebook"], run["output_notebook"]) == ("/elsewhere/a.ipynb", None)
    assert notebook_spellings(tmp_path, "../a.ipynb") == ["../a.ipynb"]
    assert notebook_spellings(tmp_path, None) is None


async def test_a_production_runs_output_notebook_is_served(jp_fetch, jp_root_dir, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))
    store = Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")
    output = jp_root_dir / ".cellfleet" / "runs" / "run1.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    served = store.create_run(kind="production", output_path=str(output))
    outside = store.create_run(kind="production", output_path=str(jp_root_dir / "elsewhere.ipynb"))
    interactive = store.create_run(kind="interactive")

    response = await jp_fetch("cellfleet", "api", "runs", served, "output")
    assert response.headers["Content-Type"] == "application/x-ipynb+json"
    assert json.loads(response.body)["nbformat"] == 4
    for run_id, message in ((outside, "not in the store's folder"), (interactive, "only production runs")):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("cellfleet", "api", "runs", run_id, "output")
        assert info.value.code == 404 and message in json.loads(info.value.response.body)["message"]

"""The server extension's REST API on each store it may be given (``CELLFLEET_DB``): a SQLite
file and a PostgreSQL database, through one real Jupyter server each."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
from tornado.httpclient import HTTPClientError

from cellfleet.server import _load_jupyter_server_extension, _unload_jupyter_server_extension
from cellfleet.store.database import MetricPoint, Store
from jobs_helpers import write_notebook
from study_helpers import keep_study, lr_matters, record_search


@pytest.fixture
def jp_server_config(jp_root_dir, monkeypatch, store_url):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))  # before the server opens its own store
    monkeypatch.setenv("CELLFLEET_DB", store_url)
    return {"ServerApp": {"jpserver_extensions": {"cellfleet": True}}}


@pytest.fixture
def store(store_url, jp_root_dir):
    store = Store(store_url)
    for lr in (0.1, 0.01, 0.001):
        run_id = store.create_run(notebook="train.ipynb", cell_id="c1", kind="variant", params={"lr": lr},
                                  status="succeeded", started=1.0, ended=2.0)  # fmt: skip
        store.log_metrics([MetricPoint(run_id, "loss", lr * 10, 0), MetricPoint(run_id, "loss", lr, 1)])
    store.create_run(notebook="other.ipynb", kind="interactive", status="failed", params={"lr": None})
    return store


async def api(jp_fetch, *path: str, method: str = "GET", body: object = None, **params: str):
    kwargs = {"method": method, "params": params}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = await jp_fetch("cellfleet", "api", *path, **kwargs)
    return json.loads(response.body) if response.body and "json" in response.headers["Content-Type"] else response


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("param.lr", [0.001, 0.01, 0.1, None]),
        ("-param.lr", [0.1, 0.01, 0.001, None]),
        ("metric.loss", [0.001, 0.01, 0.1, None]),
        ("-created", [None, 0.001, 0.01, 0.1]),
    ],
)
async def test_runs_page_and_sort_alike_on_each_store(jp_fetch, store, sort, expected):
    page = await api(jp_fetch, "runs", sort=sort, limit="3")
    rest = await api(jp_fetch, "runs", sort=sort, limit="3", offset="3")
    assert [run["params"].get("lr") for run in page["runs"] + rest["runs"]] == expected and page["total"] == 4
    variants = await api(jp_fetch, "runs", kind="variant", status="succeeded")
    assert variants["total"] == 3 and {run["final_metrics"]["loss"] for run in variants["runs"]} == {0.1, 0.01, 0.001}


async def test_one_run_its_artifact_compare_and_changes(jp_fetch, store):
    ids = [r["id"] for r in store.list_runs(kind="variant")]
    store.add_artifact(ids[0], "curve.png", b"\x89PNG fake", "image/png")
    run = await api(jp_fetch, "runs", ids[0])
    assert run["metrics"]["loss"][-1][1] == run["run"]["params"]["lr"]
    (artifact,) = run["artifacts"]
    response = await api(jp_fetch, "runs", ids[0], "artifacts", str(artifact["id"]))
    assert response.headers["Content-Type"] == "image/png" and response.body == b"\x89PNG fake"
    compared = await api(jp_fetch, "compare", ids=",".join(ids[:2]))
    assert set(compared["final_metrics"]) == set(ids[:2])
    assert len((await api(jp_fetch, "changes", since="0"))["runs"]) == 4


async def test_jobs_on_each_store(jp_fetch, store, jp_root_dir):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    job = await api(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", "every": "1h", "name": "hourly",
                                                            "params": {"lr": 0.5}})  # fmt: skip
    assert job["params"] == {"lr": 0.5} and [j["name"] for j in (await api(jp_fetch, "jobs"))["jobs"]] == ["hourly"]
    assert (await api(jp_fetch, "jobs", "hourly", "pause", method="POST", body={}))["paused"] is True
    await api(jp_fetch, "jobs", "hourly", "run-now", method="POST", body={})
    with pytest.raises(HTTPClientError) as taken:
        await api(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", "name": "hourly"})
    assert taken.value.code == 409
    await api(jp_fetch, "jobs", "hourly", method="DELETE")
    assert (await api(jp_fetch, "jobs"))["jobs"] == []


async def test_a_search_and_the_study_it_kept_on_each_store(jp_fetch, store, store_url):
    ids = record_search(store, lr_matters(), group_id="kept1")
    keep_study(store_url, "tune-lr", "kept1")
    found = await api(jp_fetch, "studies", "kept1")
    assert found["study_name"] == "tune-lr" and [t["run_id"] for t in found["trials"]] == ids
    assert found["importances"][0]["param"] == "lr" and found["trials"][-1]["values"]["loss"] is not None
    with pytest.raises(HTTPClientError) as missing:
        await api(jp_fetch, "studies", "nothing")
    assert missing.value.code == 404


class _ServerApp:
    """As much of a Jupyter ``ServerApp`` as loading the extension touches, with a log of its own."""

    def __init__(self, url: str) -> None:
        self.web_app = SimpleNamespace(settings={"base_url": "/", "cellfleet_db": url}, add_handlers=lambda *_: None)
        self.log = logging.getLogger("cellfleet-test-server")


def test_the_server_logs_its_store_without_the_password(store_url, caplog):
    serverapp = _ServerApp(store_url)
    with caplog.at_level(logging.INFO, logger="cellfleet-test-server"):
        _load_jupyter_server_extension(serverapp)
        _unload_jupyter_server_extension(serverapp)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cellfleet: API at")]
    password = Store(store_url).engine.url.password
    assert "store " in line and (password is None or (password not in line and ":***@" in line))

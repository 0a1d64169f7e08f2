"""The server extension's REST API on a real Jupyter server (pytest-jupyter's jp_fetch)."""

from __future__ import annotations

import json
import time

import pytest
from tornado.httpclient import HTTPClientError

from cellfleet.server.routes import ROUTES, NotFoundHandler
from cellfleet.store.database import MetricPoint, Store
from jobs_helpers import write_notebook


@pytest.fixture
def store(jp_root_dir, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(jp_root_dir))
    store = Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")
    for lr in (0.1, 0.01, 0.001):
        run_id = store.create_run(notebook="train.ipynb", cell_id="c1", kind="variant", params={"lr": lr},
                                  status="succeeded", started=1.0, ended=2.0)  # fmt: skip
        store.log_metrics([MetricPoint(run_id, "loss", lr * 10, 0), MetricPoint(run_id, "loss", lr, 1)])
    store.create_run(notebook="other.ipynb", kind="interactive", status="failed")
    return store


async def api(jp_fetch, *path: str, method: str = "GET", body: object = None, **params: str):
    kwargs = {"method": method, "params": params}
    if body is not None:
        kwargs["body"] = body if isinstance(body, str | bytes) else json.dumps(body)
    response = await jp_fetch("cellfleet", "api", *path, **kwargs)
    return json.loads(response.body) if response.body and "json" in response.headers["Content-Type"] else response


async def refused(jp_fetch, *path: str, method: str = "GET", body: object = None, **params: str) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await api(jp_fetch, *path, method=method, body=body, **params)
    return info.value.code, json.loads(info.value.response.body)["message"]


def _sample_path(pattern: str) -> list[str]:
    replaced = pattern.replace("([^/]+)", "x").replace("(pause|resume|run-now)", "pause").replace("(.*)", "no/such")
    assert "(" not in replaced, pattern  # a new kind of pattern: teach this test a sample for it
    return replaced.split("/")


async def test_every_route_requires_authentication(jp_fetch, store):
    assert len(ROUTES) >= 12 and {handler for _, handler in ROUTES[-2:]} == {NotFoundHandler}
    for pattern, handler in ROUTES:
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            served = method.lower() in vars(handler)
            body = "{}" if method in ("POST", "PATCH", "PUT") else None
            with pytest.raises(HTTPClientError) as info:
                await jp_fetch("cellfleet", "api", *_sample_path(pattern), method=method, headers={"Authorization": ""},
                               body=body, allow_nonstandard_methods=True)  # fmt: skip
            assert info.value.code == 403 if served else info.value.code in (403, 405), (method, pattern)


async def test_runs_filter_sort_and_paginate(jp_fetch, store):
    page = await api(jp_fetch, "runs", kind="variant", sort="created", limit="2")
    assert page["total"] == 3 and len(page["runs"]) == 2
    assert [r["params"]["lr"] for r in page["runs"]] == [0.1, 0.01]
    assert page["runs"][0]["final_metrics"] == {"loss": 0.1}
    rest = await api(jp_fetch, "runs", kind="variant", sort="created", limit="2", offset="2")
    assert [r["params"]["lr"] for r in rest["runs"]] == [0.001]
    failed = await api(jp_fetch, "runs", status="failed")
    assert [r["notebook"] for r in failed["runs"]] == ["other.ipynb"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("metric.loss", [0.001, 0.01, 0.1, None]),
        ("-metric.loss", [0.1, 0.01, 0.001, None]),
        ("param.lr", [0.001, 0.01, 0.1, None]),
        ("-param.lr", [0.1, 0.01, 0.001, None]),
    ],
)
async def test_runs_sort_on_the_server_by_a_param_or_a_final_metric(jp_fetch, store, sort, expected):
    store.log_metrics([MetricPoint(store.list_runs(kind="variant")[0]["id"], "accuracy", 0.5, 0)])
    page = await api(jp_fetch, "runs", sort=sort, limit="3")
    assert [run["params"].get("lr") for run in page["runs"]] == expected[:3] and page["total"] == 4
    last = await api(jp_fetch, "runs", sort=sort, limit="3", offset="3")
    assert [run["params"].get("lr") for run in last["runs"]] == expected[3:]


async def test_one_run_compare_and_changes(jp_fetch, store):
    ids = [r["id"] for r in store.list_runs(kind="variant")]
    run = await api(jp_fetch, "runs", ids[0])
    assert run["metrics"]["loss"][-1][1] == run["run"]["params"]["lr"]
    (step, _, logged), _ = run["metrics"]["loss"]  # [step, value, logged]: wall-time x for the curves
    assert step == 0 and isinstance(logged, float) and 0 < logged <= time.time()
    compared = await api(jp_fetch, "compare", ids=",".join(ids[:2]))
    assert set(compared["final_metrics"]) == set(ids[:2]) and set(compared["series"]) == set(ids[:2])
    assert all(len(point) == 3 for series in compared["series"].values() for point in series["loss"])
    changes = await api(jp_fetch, "changes", since="0")
    assert len(changes["runs"]) == 4 and changes["now"] > 0


async def test_compare_says_which_way_is_better_as_the_notebook_decides(jp_fetch, store):
    from cellfleet.compare import Row, best_index, direction_of

    declared = {"score": "min"}  # as %%remote --grid ... --minimize score stores it
    ids = [store.create_run(notebook="n.ipynb", kind="variant", status="succeeded", directions=declared) for _ in "ab"]
    store.log_metrics([MetricPoint(ids[0], "score", 1.0), MetricPoint(ids[1], "score", 2.0)])
    store.log_metrics([MetricPoint(ids[0], "acc", 0.5), MetricPoint(ids[1], "acc", 0.9)])
    store.log_metrics([MetricPoint(ids[0], "val_loss", 0.3), MetricPoint(ids[1], "val_loss", 0.1)])
    compared = await api(jp_fetch, "compare", ids=",".join(ids))
    assert compared["directions"] == {"score": "min", "acc": "max", "val_loss": "min"}
    rows = [Row(i, run_id, {}, metrics=compared["final_metrics"][run_id]) for i, run_id in enumerate(ids)]
    for metric, direction in compared["directions"].items():  # the notebook's table marks the same run
        assert direction_of(metric, declared) == direction
        assert best_index(rows, metric, direction_of(metric, declared)) is not None


async def test_changes_look_back_a_margin_for_late_commits_and_skewed_clocks(jp_fetch, store):
    import time

    hour_ago = time.time() - 3600
    old = store.create_run(notebook="old.ipynb", status="succeeded", created=hour_ago, ended=hour_ago + 1)
    now = (await api(jp_fetch, "changes", since="0"))["now"]
    # ended 5 s "before" the server's now, by a worker whose clock runs behind: still sent
    late = store.create_run(notebook="late.ipynb", status="succeeded", created=hour_ago, ended=now - 5)
    ids = {run["id"] for run in (await api(jp_fetch, "changes", since=str(now)))["runs"]}
    assert late in ids and old not in ids


async def test_artifacts_stream_with_their_content_type(jp_fetch, store):
    run_id = store.list_runs(kind="variant")[0]["id"]
    store.add_artifact(run_id, "curve.png", b"\x89PNG fake", "image/png")
    (artifact,) = (await api(jp_fetch, "runs", run_id))["artifacts"]
    response = await api(jp_fetch, "runs", run_id, "artifacts", str(artifact["id"]))
    assert response.headers["Content-Type"] == "image/png" and response.body == b"\x89PNG fake"
    store.add_artifact(run_id, "report.html", b"<script>alert(1)</script>", "text/html")
    html = next(a for a in (await api(jp_fetch, "runs", run_id))["artifacts"] if a["name"] == "report.html")
    response = await api(jp_fetch, "runs", run_id, "artifacts", str(html["id"]))
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    store.add_artifact(run_id, 'courbe "finale" 图.png', b"\x89PNG", "image/png")
    named = next(a for a in (await api(jp_fetch, "runs", run_id))["artifacts"] if a["name"].startswith("courbe"))
    response = await api(jp_fetch, "runs", run_id, "artifacts", str(named["id"]))
    assert response.body == b"\x89PNG"
    disposition = response.headers["Content-Disposition"]
    assert 'filename="courbe _finale_ _.png"' in disposition and "%E5%9B%BE.png" in disposition


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        (("runs",), {"limit": "0"}, 400, "limit must be between"),
        (("runs",), {"limit": "many"}, 400, "whole number"),
        (("runs",), {"sort": "secret"}, 400, "sort must be one of"),
        (("runs",), {"sort": "param.1x"}, 400, "param.NAME or metric.NAME"),
        (("runs",), {"sort": "metric.loss;drop table runs"}, 400, "sort must be one of"),
        (("runs", "nope"), {}, 404, "no run 'nope'"),
        (("runs", "nope", "artifacts", "3"), {}, 404, "no run 'nope'"),
        (("compare",), {"ids": "one"}, 400, "give 2 to 50 run ids"),
        (("changes",), {"since": "yesterday"}, 400, "since must be"),
        (("jobs", "nope"), {}, 404, "no job 'nope'"),
    ],
)
async def test_bad_requests_get_4xx_with_a_message(jp_fetch, store, path, params, status, message):
    code, text = await refused(jp_fetch, *path, **params)
    assert code == status and message in text


async def test_jobs_create_list_act_and_delete(jp_fetch, store, jp_root_dir):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    job = await api(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", "every": "1h", "name": "hourly",
                                                            "params": {"lr": 0.5}, "retries": 2})  # fmt: skip
    assert job["name"] == "hourly" and job["params"] == {"lr": 0.5} and job["retries"] == 2
    assert [j["name"] for j in (await api(jp_fetch, "jobs"))["jobs"]] == ["hourly"]
    assert (await api(jp_fetch, "jobs", "hourly", "pause", method="POST", body={}))["paused"] is True
    assert (await api(jp_fetch, "jobs", "hourly", "resume", method="POST", body={}))["paused"] is False
    await api(jp_fetch, "jobs", "hourly", "run-now", method="POST", body={})
    assert (await api(jp_fetch, "jobs", "hourly"))["runs"] == []
    code, text = await refused(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", "name": "hourly"})
    assert code == 409 and "exists" in text
    await api(jp_fetch, "jobs", "hourly", method="DELETE")
    assert (await api(jp_fetch, "jobs"))["jobs"] == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("not json", 400, "not JSON"),
        ([1, 2], 400, "must be a JSON object"),
        ({"notebook": "../../etc/passwd.ipynb"}, 400, "outside the server root"),
        ({"notebook": "/etc/hosts"}, 400, "outside the server root"),
        ({"notebook": "absent.ipynb"}, 404, "no notebook at"),
        ({"notebook": "train.ipynb", "cron": "61 * * * *"}, 400, "not a cron expression"),
        ({"notebook": "train.ipynb", "params": {"momentum": 1}}, 400, "unknown parameter"),
        ({"notebook": "train.ipynb", "retries": "two"}, 400, "whole number"),
        ({"notebook": "train.ipynb", "color": "red"}, 400, "unknown field 'color'"),
        (b'{"notebook": "\xff.ipynb"}', 400, "not UTF-8 JSON"),
        ({"notebook": "train\u0000.ipynb"}, 400, "NUL character"),
        ({"notebook": "train.ipynb", "retries": 10**30}, 400, "whole number from 0 to 99"),
        ({"notebook": "train.ipynb", "concurrency": 0}, 400, "whole number from 1 to 1000"),
    ],
)
async def test_bad_job_requests_are_refused_with_the_fix(jp_fetch, store, jp_root_dir, body, status, message):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    code, text = await refused(jp_fetch, "jobs", method="POST", body=body)
    assert code == status and message in text


async def test_the_event_stream_pushes_new_runs(jp_fetch, store):
    import asyncio

    received: list[bytes] = []

    def on_chunk(chunk: bytes) -> None:
        received.append(chunk)

    stream = asyncio.ensure_future(
        jp_fetch("cellfleet", "api", "events", streaming_callback=on_chunk, request_timeout=30)
    )
    await asyncio.sleep(0.5)
    run_id = store.create_run(notebook="live.ipynb", status="running")
    for _ in range(100):
        if any(run_id.encode() in chunk for chunk in received):
            break
        await asyncio.sleep(0.1)
    stream.cancel()
    text = b"".join(received).decode()
    messages = [json.loads(part[len("data: ") :]) for part in text.split("\n\n") if part.startswith("data: ")]
    assert text.startswith("data: ") and messages
    pushed = next(run for message in messages for run in message["runs"] if run["id"] == run_id)
    assert pushed["status"] == "running" and pushed["notebook"] == "live.ipynb" and pushed["final_metrics"] == {}


async def test_jobs_carry_their_next_run_and_last_run(jp_fetch, store, jp_root_dir):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    await api(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", "every": "1h", "name": "hourly"})
    await api(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", "name": "manual"})
    hourly, manual = (await api(jp_fetch, "jobs"))["jobs"]
    assert hourly["next_run"] - hourly["created"] == pytest.approx(3600, abs=1)
    assert manual["next_run"] is None and hourly["last_run"] is None

    paused = await api(jp_fetch, "jobs", "hourly", "pause", method="POST", body={})
    assert paused["paused"] is True and paused["next_run"] is None
    run_id = store.create_run(kind="production", job_id=hourly["id"], status="succeeded", ended=5.0)
    detail = await api(jp_fetch, "jobs", "hourly")
    assert detail["job"]["last_run"] == {"id": run_id, "status": "succeeded", "failure_class": None,
                                         "created": detail["runs"][0]["created"], "ended": 5.0}  # fmt: skip
    assert [run["id"] for run in detail["runs"]] == [run_id]

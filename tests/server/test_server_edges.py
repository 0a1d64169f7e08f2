"""The API's edges on a real Jupyter server (pytest-jupyter's jp_fetch): any unknown or
malformed path under /cellfleet/api answers a one-line JSON 404, messages keep a client's
``%`` as sent, and over-long job fields get a 400 naming the limit."""

from __future__ import annotations

import json

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError

from cellfleet.production.spec import LENGTHS
from cellfleet.store.database import Store
from jobs_helpers import write_notebook


@pytest.fixture
def store(jp_root_dir):
    write_notebook(jp_root_dir / "train.ipynb", ["print(lr)"])
    return Store(f"sqlite:///{jp_root_dir / '.cellfleet' / 'cellfleet.db'}")


@pytest.fixture
def raw(http_server_client, jp_auth_header, jp_base_url, store):
    """Fetch ``/cellfleet/api/<path>`` exactly as written (no escaping); returns (code, JSON reply)."""

    async def fetch(path: str, method: str = "GET") -> tuple[int, dict]:
        url = url_path_join(jp_base_url, "cellfleet/api") + (f"/{path}" if path else "")
        body = "{}" if method in ("POST", "PUT", "PATCH") else None
        response = await http_server_client.fetch(url, method=method, headers=dict(jp_auth_header), body=body,
                                                  raise_error=False, allow_nonstandard_methods=True)  # fmt: skip
        assert "application/json" in response.headers["Content-Type"], (path, response.body[:200])
        return response.code, json.loads(response.body)

    return fetch


async def refused(jp_fetch, *path: str, method: str = "GET", body: object = None) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("cellfleet", "api", *path, method=method, body=None if body is None else json.dumps(body))
    assert "application/json" in info.value.response.headers["Content-Type"]
    return info.value.code, json.loads(info.value.response.body)["message"]


@pytest.mark.parametrize(
    ("path", "method", "message"),
    [
        ("runs/'x", "GET", 'no run "\'x"'),
        ("runs/%27x", "GET", 'no run "\'x"'),
        ("jobs/%3Cimg%3E", "GET", "no job '<img>'"),
        ("jobs/%3Cimg%3E", "DELETE", "no job '<img>'"),
        ("jobs/%3Cimg%3E/pause", "POST", "no job '<img>'"),
        ("runs/a%0Ab", "GET", "no run 'a\\nb'"),
        ("runs/100%25", "GET", "no run '100%'"),
        ("runs/x/artifacts/%3Cimg%3E", "GET", "no run 'x'"),
        ("compare?ids=a,%3Cimg%3E", "GET", "no run 'a'"),
        ("nothing", "GET", "no Cellfleet API endpoint at 'nothing' under /cellfleet/api/"),
        ("runs/x/y/z", "PUT", "no Cellfleet API endpoint at 'runs/x/y/z'"),
        ("jobs/x/explode", "POST", "no Cellfleet API endpoint at 'jobs/x/explode'"),
        ("runs/", "GET", "no Cellfleet API endpoint at 'runs/'"),
        ("50%25%20off", "PATCH", "no Cellfleet API endpoint at '50% off'"),
        ("", "GET", "no Cellfleet API endpoint under /cellfleet/api/: the endpoints are runs, runs/ID, "),
    ],
)
async def test_an_unknown_or_malformed_path_gets_a_one_line_json_404(raw, path, method, message):
    code, reply = await raw(path, method)
    assert code == 404 and message in reply["message"], reply
    assert "\n" not in reply["message"] and "%%" not in reply["message"]


async def test_the_404_lists_every_endpoint():
    from cellfleet.server.routes import ENDPOINTS

    assert ENDPOINTS.split(", ") == [
        "runs", "runs/ID", "runs/ID/artifacts/ID", "runs/ID/output", "compare", "studies/ID", "studies/ID/curves",
        "changes", "events", "jobs", "jobs/ID", "jobs/ID/pause|resume|run-now", "cluster",
    ]  # fmt: skip


async def test_a_path_that_is_not_utf8_gets_a_json_400(raw):
    code, reply = await raw("runs/%FF")
    assert code == 400 and "Invalid unicode" in reply["message"]


async def test_a_long_id_is_named_shortened_on_one_line(raw):
    code, reply = await raw("runs/" + "a" * 5000)
    assert code == 404 and reply["message"].startswith("no run 'aaa") and len(reply["message"]) < 200


async def test_ids_with_any_characters_reach_their_run_job_and_artifact(jp_fetch, store):
    run_id = store.create_run(id="run:1 ü", notebook="train.ipynb", status="succeeded")
    store.add_artifact(run_id, "a.txt", b"hello", "text/plain")
    detail = json.loads((await jp_fetch("cellfleet", "api", "runs", run_id)).body)
    assert detail["run"]["id"] == run_id
    artifact = detail["artifacts"][0]["id"]
    assert (await jp_fetch("cellfleet", "api", "runs", run_id, "artifacts", str(artifact))).body == b"hello"
    code, message = await refused(jp_fetch, "runs", run_id, "artifacts", "1%")
    assert code == 404 and message == f"run {run_id} has no artifact '1%'"

    body = {"notebook": "train.ipynb", "name": "nightly <100%>"}
    await jp_fetch("cellfleet", "api", "jobs", method="POST", body=json.dumps(body))
    job = json.loads((await jp_fetch("cellfleet", "api", "jobs", "nightly <100%>")).body)
    assert job["job"]["name"] == "nightly <100%>"
    paused = await jp_fetch("cellfleet", "api", "jobs", "nightly <100%>", "pause", method="POST", body="{}")
    assert json.loads(paused.body)["paused"] is True


async def test_a_percent_in_any_message_is_shown_once(jp_fetch, store):
    code, message = await refused(jp_fetch, "jobs", "100%")
    assert code == 404 and message == "no job '100%': list jobs with `cellfleet jobs ls`"
    code, message = await refused(jp_fetch, "jobs", method="POST", body={"notebook": "100%.ipynb"})
    assert code == 404 and "100%.ipynb" in message and "%%" not in message


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "n" * (LENGTHS["name"] + 1)}, f"name must be at most {LENGTHS['name']} characters (got 201)"),
        (
            {"notify": "https://x/" + "p" * LENGTHS["notify_url"]},
            f"notify must be at most {LENGTHS['notify_url']} characters (got 2010)",
        ),
        (
            {"params": {"p" * 101: 1}},
            f"parameter name 'pppppppppppp...ppppppppppppp' must be at most {LENGTHS['param name']} characters "
            "(got 101)",
        ),
        (
            {"params": {"lr": "x" * 10_001}},
            f"the value of parameter 'lr' must be at most {LENGTHS['param value']} characters (got 10001)",
        ),
        ({"params": {"lr": list(range(3000))}}, "the value of parameter 'lr' must be at most 10000 characters"),
    ],
)
async def test_over_long_job_fields_get_a_400_naming_the_limit(jp_fetch, store, field, message):
    code, text = await refused(jp_fetch, "jobs", method="POST", body={"notebook": "train.ipynb", **field})
    assert code == 400 and text.startswith(message)


async def test_fields_at_their_limits_are_taken(jp_fetch, store, jp_root_dir):
    write_notebook(jp_root_dir / "long.ipynb", ["print(1)"], parameters=f"{'p' * 100} = 1\nlr = 0.1")
    body = {"notebook": "long.ipynb", "name": "n" * 200, "notify": "https://x/" + "p" * 1990,
            "params": {"p" * 100: 2, "lr": "x" * 10_000}}  # fmt: skip
    response = await jp_fetch("cellfleet", "api", "jobs", method="POST", body=json.dumps(body))
    job = json.loads(response.body)
    assert response.code == 201 and len(job["name"]) == 200 and len(job["notify_url"]) == 2000


def test_a_skipped_run_lasts_0_seconds_never_minus_0(store):
    """``cellfleet runs ls`` printed ``-0``: a skipped run is stamped ended just before it is created."""
    import time

    from cellfleet.cli.runs import table
    from cellfleet.store.queries import duration, run_rows

    store.create_run(kind="production", status="skipped", ended=time.time() - 0.0004)
    (row,) = run_rows(store)
    assert str(row["seconds"]) == "0.0" and str(duration({"created": 5.0, "ended": 4.0})) == "0.0"
    assert table([{"seconds": row["seconds"]}]) == "seconds\n0"

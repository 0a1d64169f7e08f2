"""JobSpec: a promotion's options, checked once whether they come from argparse, JSON or Python."""

from __future__ import annotations

import argparse
import dataclasses
import re

import pytest

from cellfleet.errors import PromotionError, ScheduleError
from cellfleet.production.expect import FORM
from cellfleet.production.promote import promote, promotion_summary
from cellfleet.production.schedules import Schedule, describe_schedule
from cellfleet.production.spec import JSON_FIELDS, JobSpec, add_job_arguments, parse_params
from cellfleet.protocol import Catchup, NotifyOn, Overlap, RetryOn
from cellfleet.store.database import Store
from jobs_helpers import write_notebook


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    add_job_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_run_on_demand_with_the_default_policies():
    spec = JobSpec()
    assert spec.schedule is None and spec.timeout_seconds is None and spec.params == {}
    assert (spec.overlap, spec.catchup, spec.notify_on) == (Overlap.SKIP, Catchup.LATEST, NotifyOn.FAILURE)
    assert (spec.retries, spec.concurrency, spec.retry_on, spec.expect) == (0, 1, RetryOn.INFRA, ())
    assert JobSpec.from_args(_args()) == spec == JobSpec.from_json({})


def test_from_args_reads_every_option_into_typed_fields():
    spec = JobSpec.from_args(
        _args("--every", "5m", "--name", "nightly", "-p", "lr", "0.01", "-p", "tag", "best run",
              "--from-run", "abc", "--cluster", "tcp://h:8786", "--retries", "3", "--timeout", "30m",
              "--concurrency", "2", "--overlap", "queue", "--catchup", "all", "--notify", "https://hook",
              "--notify-on", "all", "--kernel", "python3", "--retry-on", "all", "--expect", "val_loss < 0.2",
              "--expect", "accuracy>=0.9")
    )  # fmt: skip
    assert spec.schedule == Schedule("every:300") and spec.timeout_seconds == 1800
    assert spec.params == {"lr": 0.01, "tag": "best run"} and spec.from_run == "abc"
    assert (spec.overlap, spec.catchup, spec.notify_on) == (Overlap.QUEUE, Catchup.ALL, NotifyOn.ALL)
    fields = spec.job_fields()
    assert fields["overlap"] == "queue" and type(fields["overlap"]) is str and type(fields["notify_on"]) is str
    assert fields == {"schedule": "every:300", "cluster": "tcp://h:8786", "retries": 3, "timeout": 1800.0,
                      "concurrency": 2, "overlap": "queue", "catchup": "all", "notify_url": "https://hook",
                      "notify_on": "all", "kernel": "python3", "from_run": "abc", "retry_on": "all",
                      "expect": ["val_loss<0.2", "accuracy>=0.9"], "after": None}  # fmt: skip


def test_argparse_choices_come_from_the_enums():
    with pytest.raises(SystemExit):
        _args("--overlap", "sometimes")
    assert JobSpec.from_args(_args("--catchup", "none")).catchup is Catchup.NONE


def test_from_json_maps_notify_and_treats_null_as_the_default():
    spec = JobSpec.from_json({"cron": "0 2 * * *", "notify": "http://hook", "retries": None, "params": None,
                              "overlap": "allow"})  # fmt: skip
    assert spec.schedule == Schedule("cron:0 2 * * *") and spec.notify_url == "http://hook"
    assert spec.retries == 0 and spec.params == {} and spec.overlap is Overlap.ALLOW


def test_wire_values_become_members_and_the_spec_is_frozen():
    spec = JobSpec(overlap="queue", catchup="none", notify_on="all")  # type: ignore[arg-type]
    assert spec.overlap is Overlap.QUEUE and spec.catchup is Catchup.NONE and spec.notify_on is NotifyOn.ALL
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.retries = 5  # type: ignore[misc]
    again = dataclasses.replace(spec, every="1h")
    assert again.schedule == Schedule("every:3600") and again.overlap is Overlap.QUEUE


def test_params_are_copied_so_the_caller_cannot_change_the_spec():
    params = {"lr": 0.1}
    spec = JobSpec(params=params)
    params["lr"] = 0.2
    assert spec.params == {"lr": 0.1}


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"cron": "61 * * * *"}, ScheduleError, "--cron '61 * * * *' is not a cron expression"),
        ({"every": "soon"}, ScheduleError, "--every 'soon' is not a duration"),
        ({"every": "0s"}, ScheduleError, "must be longer than 0"),
        ({"cron": "0 2 * * *", "every": "1h"}, ScheduleError, "give either --cron or --every, not both"),
        ({"timeout": "ages"}, ScheduleError, "--timeout 'ages' is not a duration"),
        ({"retries": -1}, PromotionError, "retries must be a whole number from 0 to 99"),
        ({"retries": 100}, PromotionError, "retries must be a whole number from 0 to 99"),
        ({"retries": True}, PromotionError, "retries must be a whole number from 0 to 99"),
        ({"retries": 1.5}, PromotionError, "retries must be a whole number from 0 to 99"),
        ({"concurrency": 0}, PromotionError, "concurrency must be a whole number from 1 to 1000"),
        ({"overlap": "sometimes"}, PromotionError, "overlap must be skip, queue or allow (got 'sometimes')"),
        ({"catchup": "most"}, PromotionError, "catchup must be none, latest or all (got 'most')"),
        ({"notify_on": "success"}, PromotionError, "notify_on must be failure or all (got 'success')"),
        ({"overlap": 1}, PromotionError, "overlap must be a string"),
        ({"notify_url": "ftp://x"}, PromotionError, "--notify 'ftp://x': give an http:// or https:// URL"),
        ({"notify_url": 5}, PromotionError, "notify must be a string"),
        ({"name": ["a"]}, PromotionError, "name must be a string"),
        ({"params": [1]}, PromotionError, "params must be an object of parameter names to values"),
        ({"params": {1: 2}}, PromotionError, "params must be an object of parameter names to values"),
        ({"retry_on": "user"}, PromotionError, "retry_on must be infra or all (got 'user')"),
        ({"expect": ("val_loss=0.2",)}, PromotionError, "--expect 'val_loss=0.2': '=' is not a comparison; write"),
        ({"expect": "val_loss<0.2"}, PromotionError, 'expect must be a list of strings, like ["val_loss<0.2"]'),
        ({"expect": ("x<1",) * 101}, PromotionError, "expect may hold at most 100 expectations (got 101)"),
    ],
)
def test_each_mistake_is_one_line_naming_the_field_and_the_fix(fields, error, message):
    with pytest.raises(error) as info:
        JobSpec(**fields)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"color": "red"}, "unknown field 'color'; the fields are params, " + ", ".join(JSON_FIELDS)),
        ({"cron": 5}, "cron must be a string"),
        ({"timeout": 30}, "timeout must be a string"),
        ({"retries": "two"}, "retries must be a whole number from 0 to 99"),
        ({"retries": 10**30}, "retries must be a whole number from 0 to 99"),
        ({"concurrency": 0}, "concurrency must be a whole number from 1 to 1000"),
        ({"params": "lr=1"}, "params must be an object of parameter names to values"),
        ({"retry_on": "sometimes"}, "retry_on must be infra or all (got 'sometimes')"),
        ({"expect": ["loss<"]}, "--expect 'loss<': no number to compare with; " + FORM),
        ({"expect": [0.2]}, 'expect must be a list of strings, like ["val_loss<0.2"] (got float)'),
    ],
)
def test_from_json_refuses_unknown_keys_wrong_types_and_out_of_range_numbers(body, message):
    with pytest.raises(PromotionError, match="^" + re.escape(message) + "$"):
        JobSpec.from_json(body)


def test_from_json_lists_the_callers_own_keys_among_the_fields():
    assert JobSpec.from_json({"notebook": "x.ipynb"}, also=("notebook",)) == JobSpec()
    with pytest.raises(PromotionError, match="the fields are notebook, params, cron, every, name"):
        JobSpec.from_json({"colour": 1}, also=("notebook",))
    with pytest.raises(PromotionError, match="unknown field 'notebook'"):
        JobSpec.from_json({"notebook": "x.ipynb"})


def test_cli_retries_past_the_bound_are_refused_like_the_panels():
    with pytest.raises(PromotionError, match="retries must be a whole number from 0 to 99"):
        JobSpec.from_args(_args("--retries", "1000"))


def test_parse_params_reads_literals_and_keeps_other_text():
    assert parse_params([["lr", "1e-3"], ["layers", "[1, 2]"], ["name", "adam"]]) == {
        "lr": 0.001, "layers": [1, 2], "name": "adam"
    }  # fmt: skip
    assert parse_params(None) == {}
    with pytest.raises(PromotionError, match="-p 1x: parameter names are variable names"):
        parse_params([["1x", "2"]])


def test_describe_schedule_reads_the_stored_forms():
    assert describe_schedule(None) == "on demand"
    assert describe_schedule("every:3600") == "every 3600s"
    assert describe_schedule("cron:0 2 * * *") == "cron 0 2 * * *"


def test_promote_records_what_the_spec_says(tmp_path, monkeypatch):
    monkeypatch.setenv("CELLFLEET_ROOT", str(tmp_path))
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    notebook = write_notebook(tmp_path / "train.ipynb", ["print(lr)"], parameters="lr = 0.1\nlayers = 2")
    run_id = store.create_run(notebook="train.ipynb", kind="variant", params={"lr": 0.5, "layers": 4})
    spec = JobSpec(every="1h", from_run=run_id[:8], params={"layers": 8}, overlap=Overlap.QUEUE, timeout="2m")
    job = promote(notebook, spec, store)
    assert job["name"] == "train" and job["params"] == {"lr": 0.5, "layers": 8} and job["overlap"] == "queue"
    assert job["schedule"] == "every:3600" and job["timeout"] == 120 and job["from_run"] == run_id[:8]
    assert promotion_summary(notebook, job).startswith(f"promoted {notebook} as job train ({job['id']}), version ")
    assert "every 3600s; next run " in promotion_summary(notebook, job)
    with pytest.raises(PromotionError, match="unknown parameter 'momentum'"):
        promote(notebook, JobSpec(name="other", params={"momentum": 0.9}), store)


def test_the_promote_magic_builds_the_same_spec_and_prints_the_cli_line(shell, tmp_path, capsys):
    from IPython.core.error import UsageError

    from cellfleet.store.database import open_store
    from cellfleet.store.jobs import JobStore

    store = open_store()
    notebook = write_notebook(tmp_path / "magic.ipynb", ["print(lr)"], parameters="lr = 0.1\nlayers = 2")
    run_id = store.create_run(notebook="magic.ipynb", kind="variant", params={"lr": 0.5, "layers": 4})
    line = f"{notebook} --every 1h --name magic-spec --from-run {run_id} -p layers 8 --overlap queue --notify-on all"
    shell.run_line_magic("promote", line + ' --retry-on all --expect "loss<0.5" --expect "acc >= 0.9"')
    job = JobStore(store).get_job("magic-spec")
    assert capsys.readouterr().out.strip() == promotion_summary(notebook, job)
    assert job["params"] == {"lr": 0.5, "layers": 8} and job["schedule"] == "every:3600"
    assert (job["overlap"], job["notify_on"], job["from_run"]) == ("queue", "all", run_id)
    assert (job["retry_on"], job["expect"]) == ("all", ["loss<0.5", "acc>=0.9"])
    with pytest.raises(UsageError, match=r"^%promote: --expect 'loss=0.5': '=' is not a comparison; write METRIC"):
        shell.run_line_magic("promote", f"{notebook} --expect loss=0.5")
    with pytest.raises(UsageError, match=r"^%promote: argument --retry-on: invalid choice: 'user'"):
        shell.run_line_magic("promote", f"{notebook} --retry-on user")
    with pytest.raises(UsageError, match=r"^%promote: --cron 'every day' is not a cron expression"):
        shell.run_line_magic("promote", f"{notebook} --cron 'every day'")
    with pytest.raises(UsageError, match=r"^%promote: retries must be a whole number from 0 to 99$"):
        shell.run_line_magic("promote", f"{notebook} --retries 100")
    with pytest.raises(UsageError, match="--overlap"):
        shell.run_line_magic("promote", f"{notebook} --overlap sometimes")
    with pytest.raises(UsageError, match="a job named 'magic-spec' exists"):
        shell.run_line_magic("promote", f"{notebook} --name magic-spec")

"""Parsing %%remote's arguments: every mistake is a UsageError that says the fix."""

import pytest
from IPython.core.error import UsageError

from cellfleet.config import load_settings, parse_size
from cellfleet.kernel.magics import parse_remote_options


def test_defaults_ask_for_nothing_special():
    options = parse_remote_options("")
    assert (options.gpus, options.retries, options.timeout, options.nowait) == (0, 1, None, False)


def test_gpu_target_asks_for_one_gpu_and_gpus_for_more():
    assert parse_remote_options("gpu").gpus == 1
    assert parse_remote_options("gpu --gpus 2").gpus == 2
    assert parse_remote_options("--gpus 2").gpus == 2


def test_every_option_is_parsed():
    options = parse_remote_options(
        "gpu --cpus 2 --memory 4GB --cluster tcp://h:8786 --retries 3 --timeout 1.5 --name train "
        "--nowait --keep model,data --pull score --require-gpu"
    )
    assert options.cpus == 2 and options.memory == 4 * 10**9
    assert options.cluster == "tcp://h:8786" and options.retries == 3 and options.timeout == 1.5
    assert options.name == "train" and options.nowait and options.require_gpu
    assert options.keep == {"model", "data"} and options.pull == {"score"}


@pytest.mark.parametrize(
    ("line", "fix"),
    [
        ("gpus", "write %%remote gpu or %%remote cpu"),
        ("cpu --gpus 1", "%%remote gpu --gpus N"),
        ("--gpus 0", "--gpus must be more than 0"),
        ("--gpus two", "invalid int value"),
        ("--timeout -1", "--timeout must be more than 0"),
        ("--retries -1", "--retries must be 0"),
        ("--memory lots", "write it like 64MiB"),
        ("--keep 1x", "variable names separated by commas"),
        ("--name 'a b'", "--name"),
        ("--bogus", "unrecognized arguments"),
        ("--name 'open", "check the quotes"),
    ],
)
def test_mistakes_are_usage_errors_that_name_the_fix(line, fix):
    with pytest.raises(UsageError, match=None) as info:
        parse_remote_options(line)
    assert fix in str(info.value)


def test_sizes_parse_and_bad_ones_explain_themselves():
    assert parse_size("64MiB", "x") == 64 * 2**20
    with pytest.raises(ValueError, match="negative"):
        parse_size(-1, "x")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CELLFLEET_REMOTE_THRESHOLD", "1MiB")
    monkeypatch.setenv("CELLFLEET_REQUIRE_GPU", "yes")
    monkeypatch.setenv("CELLFLEET_SCHEDULER", "tcp://example:8786")
    settings = load_settings()
    assert settings.remote_threshold == 2**20 and settings.require_gpu
    assert settings.scheduler == "tcp://example:8786"
    monkeypatch.setenv("CELLFLEET_STATUS", "loud")
    with pytest.raises(ValueError, match="CELLFLEET_STATUS"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CELLFLEET_WORKERS", "two", "CELLFLEET_WORKERS='two' is not a number"),
        ("CELLFLEET_KILL_GRACE", "3s", "CELLFLEET_KILL_GRACE='3s' is not a number"),
        ("CELLFLEET_WORKERS", "0", "must be at least 1"),
        ("CELLFLEET_STATUS", "quiet", "is not one of"),
    ],
)
def test_bad_settings_are_usage_errors_in_the_notebook(ip, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    result = ip.run_cell("%%remote\nx = 1")
    assert isinstance(result.error_in_exec, UsageError) and message in str(result.error_in_exec)


def test_grid_mistakes_are_value_errors_below_the_magics():
    from cellfleet.kernel.grid import parse_axis

    with pytest.raises(ValueError, match="not a Python literal"):
        parse_axis("x={[1]:2}")


def test_unbalanced_quotes_in_cellfleet_magic(ip):
    with pytest.raises(UsageError, match="check the quotes"):
        ip.run_line_magic("cellfleet", "'status")


def test_objectives_keep_the_order_given_whichever_flag_names_them():
    options = parse_remote_options("--grid lr=1,2 --maximize acc --minimize loss --maximize f1")
    assert options.objectives == (("acc", "max"), ("loss", "min"), ("f1", "max"))
    assert list(options.directions()) == ["acc", "loss", "f1"]
    assert (options.maximize, options.minimize) == (("acc", "f1"), ("loss",))
    assert parse_remote_options("--grid lr=1,2 --minimize loss --maximize acc").objectives[0] == ("loss", "min")

"""Shared fixtures: a real IPython shell with Cellfleet loaded, on a real Dask cluster; stores on
SQLite and on a throwaway PostgreSQL server (``store_url`` runs a test on each)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from cellfleet.kernel import session as clusters
from postgres import REQUIRE, PostgresServer, driver_missing, find_bindir

pytest_plugins = ("pytest_jupyter.jupyter_server",)


def pytest_collection_modifyitems(config, items):
    if clusters.gpu_count() > 0:
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ip():
    """The IPython shell, with the extension loaded once; its clusters closed at the end."""
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "cellfleet")
    yield shell
    clusters.close_all()


@pytest.fixture
def shell(ip, monkeypatch):
    """The shell with a clean namespace, on the embedded cluster, with status lines off."""
    monkeypatch.delenv("CELLFLEET_SCHEDULER", raising=False)
    monkeypatch.setenv("CELLFLEET_STATUS", "off")
    names = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - names:
        del ip.user_ns[name]


@pytest.fixture
def client(shell):
    """The embedded cluster's client (started on first use)."""
    return clusters.connect(None).client


def run(shell, line: str, body: str):
    """Run a %%remote cell; return IPython's ExecutionResult."""
    return shell.run_cell(f"%%remote {line}\n{body}")


def eventually(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``check`` until it is true (bounded); returns the last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture(autouse=True, scope="session")
def _isolated_store(tmp_path_factory):
    """Every test (and every kernel a test starts) writes to a store of its own session."""
    import os

    root = tmp_path_factory.mktemp("project")
    os.environ["CELLFLEET_ROOT"] = str(root)
    yield root
    os.environ.pop("CELLFLEET_ROOT", None)


STORES = ("sqlite", "postgresql")
"""The databases the store, tracking, jobs, scheduler and server tests run against."""


def _without_postgres(reason: str) -> None:
    """Skip the test, or fail it under ``make test`` (``CELLFLEET_REQUIRE_POSTGRES``), which installs PostgreSQL."""
    if os.environ.get(REQUIRE, "0") not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE} is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server (a temporary cluster on a unix socket) for the session."""
    bindir = find_bindir()
    if bindir is None:
        _without_postgres("PostgreSQL is not installed (no initdb/pg_ctl found): `make postgres` installs it")
    missing = driver_missing()
    if missing:
        _without_postgres(missing)
    assert bindir is not None
    server = PostgresServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError) as error:
        server.stop()
        pytest.fail(f"the throwaway PostgreSQL server did not start: {error}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def new_postgres_url(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Makes a new empty database on the throwaway server at each call; returns its URL
    (password included). The databases are dropped after the test."""
    made: list[str] = []

    def new() -> str:
        made.append(postgres_server.create_database())
        return made[-1]

    yield new
    for url in made:
        postgres_server.drop_database(url)


@pytest.fixture
def postgres_url(new_postgres_url: Callable[[], str]) -> str:
    """The URL of an empty database of its own on the throwaway PostgreSQL server."""
    return new_postgres_url()


@pytest.fixture(params=STORES)
def new_store_url(request: pytest.FixtureRequest, tmp_path) -> Callable[[], str]:
    """Makes a new empty store at each call, on SQLite (a file under ``tmp_path/.cellfleet``)
    or on the throwaway PostgreSQL server; returns its URL. Tests that take it run on both."""
    if request.param == "postgresql":
        return request.getfixturevalue("new_postgres_url")
    count = iter(range(1, 1_000_000))

    def new() -> str:
        number = next(count)
        name = "cellfleet.db" if number == 1 else f"cellfleet-{number}.db"
        return f"sqlite:///{tmp_path / '.cellfleet' / name}"

    return new


@pytest.fixture
def store_url(new_store_url: Callable[[], str]) -> str:
    """An empty store's URL, on SQLite and on PostgreSQL (the test runs once on each)."""
    return new_store_url()

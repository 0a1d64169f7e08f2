"""The store on PostgreSQL: the driver it picks, what it says without one, the lock that makes
one process at a time create the schema, and no password in any message."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from cellfleet import StoreError
from cellfleet.store.database import Store, engine_url, safe_url
from cellfleet.store.schema import _SCHEMA_LOCK, SCHEMA_VERSION, schema_version


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:pw@db.example/cf", "postgresql+psycopg://u:pw@db.example/cf"),
        ("postgres://u:pw@db.example/cf", "postgresql+psycopg://u:pw@db.example/cf"),
        ("postgresql+psycopg2://u:pw@db.example/cf", "postgresql+psycopg2://u:pw@db.example/cf"),
        ("sqlite:///a/b.db", "sqlite:///a/b.db"),
    ],
)
def test_a_postgresql_url_without_a_driver_uses_psycopg_3(url, expected):
    assert engine_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://cf:s3cr3t-pw@db.example:5432/cellfleet",
        "postgresql://cf@db.example/cellfleet?password=s3cr3t-pw&sslmode=require",
        "postgresql://cf:s3cr3t-pw@db.example:not-a-port/cellfleet",
    ],
)
def test_safe_url_masks_the_password_wherever_the_url_holds_it(url):
    shown = safe_url(url)
    assert "s3cr3t-pw" not in shown and "***" in shown and "db.example" in shown


def test_a_store_on_postgresql_opens_with_psycopg_3_and_its_schema(postgres_url):
    store = Store(postgres_url)
    assert postgres_url.startswith("postgresql://") and store.engine.dialect.driver == "psycopg"
    with store.engine.connect() as connection:
        assert schema_version(connection) == SCHEMA_VERSION
    run_id = store.create_run(params={"lr": 0.1})
    store.save_results(run_id, b"\x00\xffpickled")
    assert store.load_results(run_id) == b"\x00\xffpickled" and Store(postgres_url).get_run(run_id)["params"] == {
        "lr": 0.1
    }


def test_errors_opening_a_postgresql_store_never_show_its_password(postgres_server):
    for url in (postgres_server.url("no_such_database"), postgres_server.url("postgres", password="wrong-pw-123")):
        with pytest.raises(StoreError, match="cannot open the experiment store at postgresql") as info:
            Store(url)
        message = str(info.value)
        assert postgres_server.password not in message and "wrong-pw-123" not in message and ":***@" in message
        assert len(message.splitlines()) == 1


def test_opening_waits_for_the_schema_lock_no_longer_than_asked(postgres_url):
    holder = sa.create_engine(engine_url(postgres_url), poolclass=sa.NullPool)
    with holder.connect() as connection:
        connection.execute(sa.select(sa.func.pg_advisory_lock(_SCHEMA_LOCK)))  # another process creating it
        started = time.monotonic()
        with pytest.raises(StoreError, match="lock timeout"):
            Store(postgres_url, open_wait=0.5)
        assert time.monotonic() - started < 10
        connection.execute(sa.select(sa.func.pg_advisory_unlock(_SCHEMA_LOCK)))
    holder.dispose()
    store = Store(postgres_url, open_wait=0.5)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "0"  # the wait was the schema lock's only


_NO_DRIVER = "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"


@pytest.fixture
def without_driver(tmp_path):
    """An environment in which ``import psycopg`` (and psycopg2) fails, as before ``cellfleet[postgres]``."""
    for name in ("psycopg", "psycopg2"):
        (tmp_path / "nodriver" / name).mkdir(parents=True)
        (tmp_path / "nodriver" / name / "__init__.py").write_text(_NO_DRIVER.replace("psycopg", name))
    path = os.pathsep.join([str(tmp_path / "nodriver"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"])
def test_without_the_driver_the_cli_says_which_extra_to_install(without_driver, scheme):
    url = f"{scheme}://cf:s3cr3t-pw@db.example/cellfleet"
    done = subprocess.run([sys.executable, "-m", "cellfleet.cli", "--db", url, "runs", "ls"], env=without_driver,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "pip install 'cellfleet[postgres]'" in done.stderr and "s3cr3t-pw" not in done.stderr


def test_without_the_driver_opening_the_store_raises_store_error(without_driver):
    probe = (
        "from cellfleet import StoreError\nfrom cellfleet.store.database import Store\n"
        "try:\n    Store('postgresql://cf:s3cr3t-pw@db.example/cellfleet')\n"
        "except StoreError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=without_driver, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cannot open the experiment store at postgresql://cf:***@db.example/cellfleet: ")
    assert done.stdout.strip().endswith("pip install 'cellfleet[postgres]'")


def test_a_url_that_cannot_be_read_is_a_store_error_without_its_password():
    with pytest.raises(StoreError, match="invalid literal") as info:
        Store("postgresql://cf:s3cr3t-pw@db.example:not-a-port/cellfleet")
    assert "s3cr3t-pw" not in str(info.value)

"""A throwaway PostgreSQL server for the tests: a cluster made with ``initdb`` in a temporary
folder, listening only on a unix socket there, stopped and removed afterwards.

``initdb`` refuses to run as root, so as root the cluster belongs to an unprivileged user
(``postgres`` when Debian's package made one, else ``nobody``). The binaries are found on
``PATH``, through ``pg_config --bindir``, or in Debian's ``/usr/lib/postgresql/VERSION/bin``
(``make postgres`` installs them). ``python tests/postgres.py`` starts one by hand and prints
its URL until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["REQUIRE", "PostgresServer", "driver_missing", "find_bindir", "throwaway_server"]

REQUIRE = "CELLFLEET_REQUIRE_POSTGRES"
"""Set (to anything but 0) by ``make test``: a missing server or driver fails instead of skipping."""

_SETTINGS = {
    "listen_addresses": "''",
    "max_connections": "400",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
"""Only a unix socket, room for every test's connections, and no durability (it is thrown away)."""


def _version(bindir: str) -> tuple[int, ...]:
    found = re.search(r"/postgresql/([\d.]+)/", bindir + "/")
    return tuple(int(part) for part in found.group(1).split(".")) if found else (0,)


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or ``None`` when PostgreSQL is not installed."""
    candidates: list[str] = []
    for name in ("pg_ctl", "initdb"):
        on_path = shutil.which(name)
        if on_path:
            candidates.append(str(Path(on_path).resolve().parent))
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(done.stdout.strip())
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(debian, key=_version, reverse=True)
    for folder in filter(None, candidates):
        if all(os.access(Path(folder) / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def driver_missing() -> str | None:
    """Why this interpreter cannot talk to PostgreSQL, or ``None`` when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the PostgreSQL driver is not installed: pip install -e '.[postgres]'"
    return None


def _owner() -> pwd.struct_passwd | None:
    """The unprivileged user the cluster runs as when this process is root (else ``None``)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and there is no 'postgres' or 'nobody' user for initdb")


class PostgresServer:
    """One temporary cluster; :meth:`create_database` gives each test a database of its own."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="cellfleet-pg-", dir="/tmp" if Path("/tmp").is_dir() else None))
        self.data = self.folder / "data"
        self.socket = self.folder
        self.owner = _owner()
        if self.owner is not None:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        self.password = f"pw-{secrets.token_hex(8)}"
        """The superuser's password: every URL carries it, and no message may show it."""

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bindir / tool), *args]
        kwargs: dict[str, Any] = {"cwd": self.folder, "env": {**os.environ, "LC_ALL": "C", "TZ": "UTC"}}
        if self.owner is not None:
            kwargs.update(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[])
            kwargs["env"]["HOME"] = str(self.folder)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args[:2])} failed: {done.stderr.strip()}\n{tail}")

    def start(self) -> None:
        secret = self.folder / "password"
        secret.write_text(self.password)
        if self.owner is not None:
            os.chown(secret, self.owner.pw_uid, self.owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", f"--pwfile={secret}", "--auth=scram-sha-256",
                  "--no-locale", "-E", "UTF8", "-N")  # fmt: skip
        secret.unlink()
        settings = {**_SETTINGS, "unix_socket_directories": f"'{self.socket}'"}
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", password: str | None = None, driver: str = "") -> str:
        """A SQLAlchemy URL for ``database`` with the server's password (or ``password``);
        ``driver``: e.g. ``+psycopg`` (none: Cellfleet picks)."""
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql{driver}://postgres:{secret}@/{database}?host={quote(str(self.socket), safe='')}"

    def _admin(self, statement: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(driver="+psycopg"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` (its connections are ended first)."""
        import sqlalchemy as sa

        name = sa.engine.make_url(url).database
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """A started server, stopped and removed on leaving; ``RuntimeError`` when there is no PostgreSQL."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb and pg_ctl found): run `make postgres`")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    with throwaway_server() as running:
        print(running.url(), flush=True)
        print("PostgreSQL is up; Ctrl-C stops it and removes its files", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)

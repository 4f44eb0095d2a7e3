"""A throwaway PostgreSQL server for the test session.

Started once per session (per xdist worker), in a temporary directory, on a free port,
with trust authentication on 127.0.0.1 and a Unix socket inside the data directory. As
root, PostgreSQL refuses to run, so the server runs as the ``postgres`` user through
``runuser``. ``TONGYUAN_TEST_PG_URL`` points the tests at an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_URL = "TONGYUAN_TEST_PG_URL"


class PgUnavailable(RuntimeError):
    """No PostgreSQL to test against: binaries missing or the server would not start."""


def find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PgUnavailable("running as root and runuser is missing: cannot drop to postgres")
    return [runuser, "-u", "postgres", "--", *argv]


@dataclass
class PgServer:
    """A server (ours or an external one) and the databases tests create on it."""

    base_url: URL
    data_dir: Path | None = None
    pg_ctl: str | None = None
    _tmp: Path | None = None
    _created: list[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> PgServer:
        initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise PgUnavailable("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
        tmp = Path(tempfile.mkdtemp(prefix="typg-"))
        data = tmp / "data"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
            shutil.chown(data, "postgres")
        try:
            subprocess.run(
                _as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres",
                              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            last_error = ""
            for _attempt in range(3):  # a free port may be taken before we bind it
                port = _free_port()
                options = (
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                )
                started = subprocess.run(
                    _as_postgres([pg_ctl, "-D", str(data), "-o", options,
                                  "-l", str(tmp / "server.log"), "-w", "-t", "60", "start"]),
                    capture_output=True, text=True,
                )  # fmt: skip
                if started.returncode == 0:
                    url = URL.create(
                        "postgresql+psycopg", username="postgres", host="127.0.0.1", port=port,
                        database="postgres",
                    )  # fmt: skip
                    return cls(base_url=url, data_dir=data, pg_ctl=pg_ctl, _tmp=tmp)
                last_error = started.stderr + started.stdout
            raise PgUnavailable(f"PostgreSQL did not start: {last_error.strip()}")
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise PgUnavailable(f"initdb failed: {exc.stderr.strip()}") from exc
        except PgUnavailable:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def from_env(cls) -> PgServer | None:
        raw = os.environ.get(ENV_URL, "").strip()
        if not raw:
            return None
        url = make_url(raw)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return cls(base_url=url)

    def url(self, database: str) -> str:
        return self.base_url.set(database=database).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection:
        conninfo = self.base_url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, autocommit=True)

    def create_database(self, *, template: str | None = None, prefix: str = "ty") -> str:
        """A new empty (or template-copied) database; its name is returned."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with self._admin() as conn:
            conn.execute(statement)
        self._created.append(name)
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self._created:
            self._created.remove(name)

    def stop(self) -> None:
        """Stop our server and delete it; on an external server drop what we created."""
        if self.data_dir is None:
            for name in list(self._created):
                self.drop_database(name)
            return
        assert self.pg_ctl is not None
        subprocess.run(
            _as_postgres([self.pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"]),
            capture_output=True, check=False,
        )  # fmt: skip
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

"""A real PostgreSQL server for the tests.

``postgres_server`` (session scope) uses the server named by ``$KOTA_TEST_PG_URL``
(a URL whose user may create databases) or else starts a private one with
``scripts/start_postgres.sh`` in a temporary folder on a free port, and stops it
when the session ends. ``postgres_url`` (function scope) gives each test a fresh,
empty database and drops it afterwards, so tests never see each other's rows.

Import both into a conftest (or a test module) to use them::

    from tests.pg_server import postgres_server, postgres_url  # noqa: F401
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

PG_URL_ENV = "KOTA_TEST_PG_URL"
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
_INSTALL_HINT = (
    "PostgreSQL server binaries are missing (looked in /usr/lib/postgresql/*/bin and on "
    "PATH). `make test` installs PostgreSQL (apt-get install postgresql); or point "
    f"${PG_URL_ENV} at a running server."
)


def libpq_conninfo(url: str) -> str:
    """A libpq URL for psycopg (``psycopg.connect``) from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _free_port() -> int:
    """A free TCP port below the ephemeral range.

    An ephemeral port can be taken, between a server stop and start, by some client's
    outgoing connection, and then stays blocked while that socket sits in TIME_WAIT
    (seen on this project's CI VM); ports below the range are only ever bound on purpose.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port found in 20000-32000")


def _binaries_present() -> bool:
    if os.environ.get("PGBIN"):
        return os.access(os.path.join(os.environ["PGBIN"], "initdb"), os.X_OK)
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or bool(shutil.which("initdb"))


def _script(*args: str) -> str:
    """Run a scripts/ helper; fail the test (not skip) with its output if it fails."""
    env = {**os.environ, "KOTA_PG_FAST": "1"}
    proc = subprocess.run(
        [str(SCRIPTS / args[0]), *args[1:]], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n{_INSTALL_HINT}",
            pytrace=False,
        )
    return proc.stdout


@dataclass
class PostgresServer:
    """A running PostgreSQL server the tests may use.

    Attributes
    ----------
    url : str, SQLAlchemy URL of a maintenance database (``postgresql+psycopg://``)
    directory : Path or None, the server's folder when the tests started it
        (None for an external ``$KOTA_TEST_PG_URL`` server)
    port : int or None
    """

    url: str
    directory: Path | None = None
    port: int | None = None

    @property
    def can_restart(self) -> bool:
        """Whether the tests own the server and may stop and start it."""
        return self.directory is not None

    def create_database(self) -> str:
        """Create an empty database with a unique name and return its URL."""
        name = f"kota_test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(libpq_conninfo(self.url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url``, disconnecting anyone still in it."""
        name = make_url(url).database
        with psycopg.connect(libpq_conninfo(self.url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut)."""
        self._require_owned()
        _script("stop_postgres.sh", str(self.directory))

    def start(self) -> None:
        """Start the stopped server again on the same port and data."""
        self._require_owned()
        _script("start_postgres.sh", str(self.directory), str(self.port))

    def restart(self) -> None:
        """Stop and start the server; every existing connection dies."""
        self.stop()
        self.start()

    def _require_owned(self) -> None:
        if self.directory is None:
            pytest.skip(f"the server from ${PG_URL_ENV} is not ours to stop or restart")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test session (external or started here)."""
    external = os.environ.get(PG_URL_ENV)
    if external:
        yield PostgresServer(url=external)
        return
    if not _binaries_present():
        pytest.fail(_INSTALL_HINT, pytrace=False)
    # Not pytest's tmp_path: that is private to root, and the server runs as `postgres`.
    directory = Path(tempfile.mkdtemp(prefix="kota-pg-"))
    port = _free_port()
    try:
        out = _script("start_postgres.sh", str(directory), str(port))
        url = out.strip().splitlines()[-1]
        yield PostgresServer(url=url, directory=directory, port=port)
    finally:
        if (directory / "data" / "PG_VERSION").exists():
            subprocess.run([str(SCRIPTS / "stop_postgres.sh"), str(directory)],
                           capture_output=True, timeout=120, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)

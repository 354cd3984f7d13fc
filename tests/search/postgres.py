"""A throwaway PostgreSQL server for the search tests, on a free port of 127.0.0.1.

The ``postgres_url`` fixture (session scope) runs Debian's server binaries
(``/usr/lib/postgresql/<version>/bin``, newest version), creates a cluster in a fresh temporary
directory, starts it on loopback only, creates database ``dse`` owned by superuser ``dse``
(trust authentication) and yields ``postgresql+psycopg2://dse@127.0.0.1:PORT/dse``. Afterwards
it stops the server and removes the directory, whether the tests passed or not.

The server refuses to run as root, so under root (as in CI) it runs as the ``postgres`` system
user that Debian's package creates. Missing binaries fail the tests: ``.ci/run`` installs them
(``apt-get install -y postgresql``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ROOT = Path("/usr/lib/postgresql")
USER = "dse"
DATABASE = "dse"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found under "
    f"{PG_ROOT}/<version>/bin. The search tests need a real PostgreSQL server: `.ci/run` "
    "installs it (`apt-get install -y --no-install-recommends postgresql` on Debian/Ubuntu)."
)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl."""
    if not PG_ROOT.is_dir():
        return None
    candidates = [d / "bin" for d in PG_ROOT.iterdir()
                  if (d / "bin" / "initdb").is_file() and (d / "bin" / "pg_ctl").is_file()]
    return max(candidates, key=lambda b: _version_key(b.parent), default=None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """One cluster in ``base``; commands run as ``postgres`` when we are root."""

    def __init__(self, pg_bin: Path, base: Path) -> None:
        self.pg_bin = pg_bin
        self.base = base
        self.data = base / "data"
        self.log = base / "server.log"
        self.port = 0
        self.as_root = os.geteuid() == 0

    def _cmd(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.pg_bin / tool), *args]
        if not self.as_root:
            return argv
        if shutil.which("runuser"):
            return ["runuser", "-u", "postgres", "--", *argv]
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in argv)]

    def run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        for var in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGDATA", "PGPASSWORD"):
            env.pop(var, None)
        return subprocess.run(self._cmd(tool, *args), cwd=self.base, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def _check(self, proc: subprocess.CompletedProcess[str], what: str) -> None:
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.is_file() else ""
            pytest.fail(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
                        f"\n--- server log ---\n{log}", pytrace=False)

    def init(self) -> None:
        if self.as_root:
            try:
                shutil.chown(self.base, "postgres", "postgres")
            except LookupError:
                pytest.fail("running as root, but there is no `postgres` system user to run the "
                            "PostgreSQL server as (Debian's postgresql package creates it).",
                            pytrace=False)
        self._check(self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER,
                             "-E", "UTF8", "--locale=C", "--no-instructions", "--no-sync"),
                    "initdb")

    def start(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            proc = self.run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                            "-l", str(self.log), "-o", options, timeout=90)
            if proc.returncode == 0:
                break
            if attempt == attempts - 1:  # maybe someone took the port in between; retry first
                self._check(proc, "pg_ctl start")
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", USER, "-d", "postgres", timeout=10)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                self._check(proc, "waiting for the server (pg_isready)")
            time.sleep(0.1)

    def create_database(self) -> None:
        self._check(self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                             DATABASE), "createdb")

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        proc = self.run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", "fast")
        if proc.returncode != 0:
            self.run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", "immediate")


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database on 127.0.0.1, for this test session."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    # Short path (the Unix socket path is limited to ~107 bytes); /tmp is reachable by the
    # postgres user when we run as root.
    base = Path(tempfile.mkdtemp(prefix="dse-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    server = _Server(pg_bin, base)
    try:
        server.init()
        server.start()
        server.create_database()
        yield f"postgresql+psycopg2://{USER}@127.0.0.1:{server.port}/{DATABASE}"
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)

"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` binaries, a cluster in a temporary folder.

``initdb`` into a fresh folder, ``postgres`` on a free port of 127.0.0.1 (and a socket in that folder), trust
authentication for loopback and the socket only (this cluster is the tests' own, reachable from this machine only,
and gone when they end), fsync off. As root (``initdb`` and ``postgres`` refuse root) the server runs as the
``postgres`` system user that Debian's package makes. Each test gets a database of its own (:meth:`Cluster.database`).

No PostgreSQL on the machine is a failure with the command that installs it, never a skip: ``make test`` installs it.

    python -m tests.pg      # start one, print its URL, stop it on Enter (for a try by hand)
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "obsmap_test"
INSTALL = "apt-get install -y postgresql (make test does it when initdb or pg_ctl is missing)"


class NoPostgres(RuntimeError):
    pass


def bin_dir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else the newest /usr/lib/postgresql/*/bin (Debian keeps them there)."""
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return Path(os.path.realpath(found[0])).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0
    )
    if versions:
        return Path(versions[-1]).parent
    raise NoPostgres(f"PostgreSQL's initdb and pg_ctl were not found (on PATH or in /usr/lib/postgresql/*/bin): {INSTALL}.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PREFIX = "obsmap-pg-"


def _stop_abandoned(bin_path: Path) -> None:
    """Stop and remove the servers of test runs that were killed before they could (their owner process is gone)."""
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            os.kill(int((root / "owner.pid").read_text()), 0)
            continue  # its test run is still going
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge (no owner file yet, or another user's)
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if (root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                cmd = [*runner, str(bin_path / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"]
                subprocess.run(cmd, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


class Cluster:
    """One PostgreSQL server in a temporary folder; :meth:`stop` removes it all."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        _stop_abandoned(self.bin)
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse root: Debian's package made a `postgres` user for them
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise NoPostgres(f"running as root and no `postgres` system user to run the test server as: {INSTALL}.") from exc
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        try:
            self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
            options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200 -c full_page_writes=off"
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start")
        except BaseException:
            self.stop()
            raise

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bin / program), *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise NoPostgres(f"{program} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database on this server: its URL (no password: trust on loopback, in this cluster only)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(NoPostgres, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":
    cluster = Cluster()
    try:
        input(f"{cluster.url()}  (Enter stops it)\n")
    finally:
        cluster.stop()

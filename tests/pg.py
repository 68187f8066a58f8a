"""A throwaway PostgreSQL cluster for the tests and the benchmark (Debian's server binaries).

Created in a temp folder owned by the ``postgres`` system user (the server refuses to run as
root), run through ``runuser -u postgres --``, listening only on a Unix socket in that folder
(``listen_addresses = ''``: no TCP at all), stopped and removed by :meth:`Cluster.close`.
Nothing is installed here: ``scripts/sysdeps.sh`` installs the ``postgresql`` package.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

USER = "postgres"


def server_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb`` and ``pg_ctl``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    for initdb in reversed(found):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").is_file():
            return bindir
    return None


def unavailable_reason() -> str | None:
    """Why a throwaway cluster cannot be made here (``None``: it can)."""
    if os.geteuid() != 0:
        return "needs root (the throwaway PostgreSQL cluster runs as the postgres user)"
    if server_bin() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; apt-get install " \
               "postgresql, or make sysdeps)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "no postgres system user (Debian's postgresql package creates it)"
    if shutil.which("runuser") is None:
        return "no runuser"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    return None


class ClusterError(RuntimeError):
    pass


class Cluster:
    """One server: ``url`` reaches database ``camscan`` as the superuser ``postgres``."""

    def __init__(self) -> None:
        bindir = server_bin()
        if bindir is None:
            raise ClusterError("no PostgreSQL server binaries")
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="camscan-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log = self.root / "server.log"
        self.running = False
        ent = pwd.getpwnam(USER)
        os.chown(self.root, ent.pw_uid, ent.pw_gid)
        os.chmod(self.root, 0o700)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", USER, "--", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             cwd=self.root)
        if res.returncode != 0:
            raise ClusterError(f"{' '.join(args[:2])}: exit {res.returncode}: "
                               f"{(res.stderr or res.stdout)[-800:]}")
        return res

    def start(self) -> Cluster:
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
                      "-E", "UTF8", "--no-sync")
            with (self.data / "postgresql.conf").open("a") as fh:
                fh.write(f"listen_addresses = ''\nunix_socket_directories = '{self.root}'\n"
                         "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                         "max_connections = 60\nshared_buffers = 64MB\n")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "start")
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                      "stop")
            self.running = False

    def url(self, db: str = "camscan") -> str:
        return f"postgresql://{USER}@/{db}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # names are the tests' own
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def sql(self, db: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as conn:
            conn.execute(statement)

    def close(self) -> None:
        try:
            with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
                self.stop()
            if self.running:  # stop failed: kill the postmaster by its pid file
                pid_file = self.data / "postmaster.pid"
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), 9)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

"""A throwaway PostgreSQL cluster for the tests and the benchmark (Debian's server binaries).

Created in a temp folder owned by the ``postgres`` system user (the server refuses to run as
root), run through ``runuser -u postgres --``, listening only on a Unix socket in that folder
(``listen_addresses = ''``: no TCP at all), stopped and removed by :meth:`Cluster.close`.
``Cluster(tls=True)`` also listens on 127.0.0.1 (a free port), TLS only: a throwaway CA signs
the server's certificate (``localhost``, ``127.0.0.1``; :attr:`Cluster.ca_file`), and
``pg_hba.conf`` admits TCP clients by ``hostssl`` (password) alone, refusing ``hostnossl``.
Nothing is installed here: ``scripts/sysdeps.sh`` installs the ``postgresql`` package.
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


def write_certificates(folder: Path, ca_name: str = "camscan test CA"
                       ) -> tuple[Path, Path, Path]:
    """A throwaway CA (``ca_name``) and a server certificate it signs for ``localhost`` and
    127.0.0.1 (P-256, one day): the CA's, the server's and its key's files in ``folder``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
             signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_file, cert_file, key_file = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_file.write_bytes(cert(ca_name, ca_key, ca_name, ca_key, True)
                        .public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert("localhost", key, ca_name, ca_key, False)
                          .public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, cert_file, key_file


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on just now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """One server: ``url`` reaches database ``camscan`` as the superuser ``postgres``."""

    def __init__(self, *, tls: bool = False) -> None:
        bindir = server_bin()
        if bindir is None:
            raise ClusterError("no PostgreSQL server binaries")
        self.bin = bindir
        self.root = Path(tempfile.mkdtemp(prefix="camscan-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log = self.root / "server.log"
        self.running = False
        self.tls = tls
        self.port = free_port() if tls else 0
        self.ca_file = self.root / "ca.crt"
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
            if self.tls:
                self._tls_config()
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "start")
        self.running = True
        return self

    def _tls_config(self) -> None:
        """TCP on 127.0.0.1 with TLS only (``hostssl``; ``hostnossl`` refused)."""
        _, cert, key = write_certificates(self.root)
        ent = pwd.getpwnam(USER)
        for path in (cert, key):
            os.chown(path, ent.pw_uid, ent.pw_gid)
        key.chmod(0o600)
        with (self.data / "postgresql.conf").open("a") as fh:
            fh.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nssl = on\n"
                     f"ssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n")
        # in place of initdb's (which trusts any TCP client of 127.0.0.1, TLS or not)
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostnossl all all 0.0.0.0/0 reject\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n")

    def stop(self) -> None:
        if self.running:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                      "stop")
            self.running = False

    def url(self, db: str = "camscan") -> str:
        """The superuser's URL of ``db`` (the Unix socket: trusted, no password)."""
        port = f"&port={self.port}" if self.port else ""
        return f"postgresql://{USER}@/{db}?host={self.socket_dir}{port}"

    def tcp_url(self, db: str, user: str, **params: str) -> str:
        """``user``'s URL of ``db`` over TCP to 127.0.0.1 (``tls=True`` only)."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

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

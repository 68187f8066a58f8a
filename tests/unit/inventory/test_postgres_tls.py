"""TLS to the server end to end: a throwaway cluster that takes TCP clients on 127.0.0.1 by
TLS alone (``hostssl``; ``hostnossl`` rejected), its certificate signed by a throwaway CA
(tests/pg.py). A sensor with ``sslmode=require`` or ``verify-full`` (``sslrootcert``: the CA)
records a sweep; without TLS, or trusting another CA, it is refused; the password is never
in what it says."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.inventory import Inventory, Unreachable
from tests.pg import Cluster, write_certificates
from tests.unit.inventory.conftest import started_cluster
from tests.unit.inventory.lab import a_cam, c_cam, day
from tests.unit.inventory_helpers import report

SECRET = "tls-s3cr3t-Pa55"
ROLE, DB = "sensor_tls", "camscan_tls"


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[Cluster]:
    for cluster in started_cluster(tls=True, database=DB):
        cluster.sql("postgres", f"CREATE ROLE {ROLE} LOGIN PASSWORD '{SECRET}'")
        cluster.sql("postgres", f"ALTER DATABASE {DB} OWNER TO {ROLE}")
        yield cluster


@pytest.fixture
def password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.delenv("PGSSLMODE", raising=False)
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o600)
    return pw


def _ssl_in_use(inv: Inventory) -> tuple[bool, str | None]:
    row = inv.conn.execute(
        "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    return bool(row[0]), row[1]


def test_sensor_records_over_tls_require_and_verify_full(
        tls_cluster: Cluster, password_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    require = tls_cluster.tcp_url(DB, ROLE, sslmode="require")
    with Inventory.open(require, password_file=password_file, lock=True, site="hq") as inv:
        assert _ssl_in_use(inv)[0]
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
    full = tls_cluster.tcp_url(DB, ROLE, sslmode="verify-full",
                               sslrootcert=str(tls_cluster.ca_file))
    with Inventory.open(full, password_file=password_file, lock=True, site="hq") as inv:
        ssl, version = _ssl_in_use(inv)
        assert ssl and version and version.startswith("TLS")
        res = inv.record_sweep(report([a_cam("10.77.0.10"), c_cam()],
                                      started=day(2)), "hq")
        assert res.new == 1  # the first sweep's camera was matched, across connections
        out = io.StringIO()
        inv.export_jsonl(out)
        assert [r.ip for r in inv.worklist()] == ["10.77.0.10", "10.77.0.12"]
    assert SECRET not in out.getvalue() + caplog.text


def test_without_tls_or_trusting_another_ca_the_sensor_is_refused(
        tls_cluster: Cluster, password_file: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    plain = tls_cluster.tcp_url(DB, ROLE, sslmode="disable")
    with pytest.raises(Unreachable, match="no encryption") as no_tls:
        Inventory.open(plain, password_file=password_file)
    other_ca, _, _ = write_certificates(tmp_path, "another CA")  # did not sign the server's
    forged = tls_cluster.tcp_url(DB, ROLE, sslmode="verify-full", sslrootcert=str(other_ca))
    with pytest.raises(Unreachable, match="certificate verify failed") as untrusted:
        Inventory.open(forged, password_file=password_file)
    # the right CA, but a name the certificate does not hold (hostaddr: no name lookup)
    wrong_name = (f"postgresql://{ROLE}@camscan.invalid:{tls_cluster.port}/{DB}?hostaddr="
                  f"127.0.0.1&sslmode=verify-full&sslrootcert={tls_cluster.ca_file}")
    with pytest.raises(Unreachable, match="does not match host name") as unnamed:
        Inventory.open(wrong_name, password_file=password_file)
    said = [str(e.value) for e in (no_tls, untrusted, unnamed)] + [caplog.text]
    assert all(SECRET not in text for text in said)

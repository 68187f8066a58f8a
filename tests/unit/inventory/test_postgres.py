"""The central inventory on PostgreSQL: many sensors at once, site locks, one asset for one
device seen by two sensors, the spool across a server restart, credentials, the commands
across sites. (The shared behaviour runs on both backends: test_inventory.py.)"""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from camscan.app.record import ScanRecorder
from camscan.cli.common import REPORTER
from camscan.cli.inventory import register
from camscan.inventory import Inventory, InventoryError, InventoryLocked, Unreachable
from camscan.models import Asset
from tests.pg import Cluster
from tests.unit.inventory.conftest import pg_schema_url
from tests.unit.inventory.lab import a_cam, c_cam, day
from tests.unit.inventory_helpers import cam, report

SECRET = "s3cr3t-Pa55-w0rd"


@pytest.fixture
def url(pg_cluster: Cluster) -> str:
    return pg_schema_url(pg_cluster)


def site_devices(n: int, count: int = 30) -> list[Asset]:
    """A lab-like site ``10.77.n.0/24``: cameras with a serial, with only a MAC, and with
    neither (known by address)."""
    out: list[Asset] = []
    for i in range(count):
        ip = f"10.77.{n}.{10 + i}"
        if i % 3 == 0:
            out.append(cam(ip, serial=f"SN-{n:02d}-{i:03d}"))
        elif i % 3 == 1:
            out.append(cam(ip, mac=f"44:19:b6:{n:02x}:00:{i:02x}"))
        else:
            out.append(cam(ip, model=f"M-{i}"))
    return out


def site_report(n: int, started: str, extra: list[Asset] | None = None):
    return report(site_devices(n) + (extra or []), started=started,
                  targets=[f"10.77.{n}.0/24"])


def cli(*args: str, env: dict[str, str] | None = None):
    import click

    @click.group()
    def main() -> None:
        pass

    register(main)
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


# --- many sensors ---------------------------------------------------------------------------


def at_once(n: int, work: Callable[[int, threading.Barrier], None]) -> list[BaseException]:
    """Run ``work(i, start)`` in ``n`` threads (each waits on ``start`` to begin together);
    returns what they raised."""
    start, errors = threading.Barrier(n, timeout=60), []

    def run(i: int) -> None:
        try:
            work(i, start)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_first_opens_at_once_make_one_schema(url: str) -> None:
    def first_open(_: int, start: threading.Barrier) -> None:
        start.wait()
        Inventory.open(url).close()

    assert at_once(8, first_open) == []
    with Inventory.open(url, write=False) as inv:
        assert inv.conn.execute("SELECT version FROM camscan_schema").fetchall() == [(2,)]


def test_eight_sensors_sweep_their_sites_at_once(url: str) -> None:
    shared_serial = cam("10.77.0.250", serial="SHARED-DEVICE-1")

    def sensor(n: int, start: threading.Barrier) -> None:
        with Inventory.open(url, lock=True, site=f"site{n}") as inv:
            start.wait()
            for k in (1, 2):
                extra = [shared_serial] if n in (0, 1) and k == 1 else []
                inv.record_sweep(site_report(n, day(k), extra), f"site{n}",
                                 sensor=f"sensor-{n}")

    assert at_once(8, sensor) == []
    with Inventory.open(url, write=False) as inv:
        sweeps = inv.sweeps()
        assert len(sweeps) == 16 and {s.site for s in sweeps} == {f"site{n}" for n in range(8)}
        rows = inv.assets()
        # no device lost, none duplicated: 30 per site, and the one two sensors saw
        assert len(rows) == 8 * 30 + 1
        assert len({(r["site"], r["ip"]) for r in rows}) == len(rows)
        assert sum(1 for r in rows if r["serial"] == "SHARED-DEVICE-1") == 1
        sensors = {row[0] for row in inv.conn.execute("SELECT sensor FROM sweeps")}
        assert sensors == {f"sensor-{n}" for n in range(8)}
        # the statuses are those of sweeps recorded one by one: all present, nothing gone
        assert {r["status"] for r in rows} == {"open"}
        assert {len(inv.worklist(f"site{n}")) for n in range(2, 8)} == {30}
        assert len(inv.worklist()) == 241


def test_two_sensors_seeing_one_device_at_once_converge(url: str, monkeypatch) -> None:
    """Sensor 1 has claimed the serial and not committed yet when sensor 2 records the same
    device: sensor 2 waits for it, then takes its asset."""
    from camscan.inventory.postgres import PostgresStore

    Inventory.open(url).close()  # the schema, made once
    claimed, release = threading.Event(), threading.Event()
    real = PostgresStore.claim_keys

    def slow_claim(self, new):
        taken = real(self, new)
        if threading.current_thread().name == "sensor-1":
            claimed.set()
            release.wait(30)
        return taken

    monkeypatch.setattr(PostgresStore, "claim_keys", slow_claim)
    device = cam("10.77.1.10", serial="ONE-DEVICE", mac="44:19:b6:aa:bb:cc")
    results: dict[str, int] = {}

    def sensor(name: str, site: str, ip: str) -> None:
        d = cam(ip, serial=device.serial, mac=device.mac)
        with Inventory.open(url, lock=True, site=site) as inv:
            results[name] = inv.record_sweep(report([d], started=day(1)), site,
                                             sensor=name).new

    one = threading.Thread(target=sensor, args=("sensor-1", "north", "10.77.1.10"),
                           name="sensor-1")
    one.start()
    assert claimed.wait(30)
    two = threading.Thread(target=sensor, args=("sensor-2", "south", "10.77.2.10"),
                           name="sensor-2")
    two.start()
    two.join(1.0)
    assert two.is_alive(), "sensor 2 waits for sensor 1's claim"
    release.set()
    one.join(30)
    two.join(30)
    assert results == {"sensor-1": 1, "sensor-2": 0}
    with Inventory.open(url, write=False) as inv:
        rows = inv.assets()
        assert len(rows) == 1, "one device, one asset"
        assert (rows[0]["site"], rows[0]["ip"]) == ("south", "10.77.2.10")  # seen last there
        assert [x.ip for x in inv.history(rows[0]["id"]).addresses] == [
            "10.77.1.10", "10.77.2.10"]


def test_a_sensors_lock_covers_its_site_only(url: str) -> None:
    with Inventory.open(url, lock=True, site="hq") as first:
        with pytest.raises(InventoryLocked, match="sweeping site 'hq'"):
            Inventory.open(url, lock=True, site="hq")
        with Inventory.open(url, lock=True, site="branch") as other:
            other.record_sweep(report([c_cam()], started=day(1)), "branch")
        first.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
        with Inventory.open(url, write=False) as reader:  # readers never wait
            assert reader.sites() == ["branch", "hq"]
    with Inventory.open(url, lock=True, site="hq"):
        pass  # released with its session


# --- the spool -------------------------------------------------------------------------------


def test_unreachable_server_spools_and_the_next_run_delivers(url: str, tmp_path: Path,
                                                             pg_cluster: Cluster) -> None:
    spool = tmp_path / "spool"
    down = f"postgresql://postgres@/camscan?host={tmp_path / 'no-server'}"
    for n in (1, 2):
        rec = ScanRecorder(down, REPORTER, site="hq", sensor="s1", spool=spool, quiet=True)
        assert rec.open() is None and rec.spooling
        with rec:
            rec.record(report([a_cam("10.77.0.10"), c_cam()] if n == 1 else [c_cam()],
                              started=day(n)))
        assert rec.spooled is not None and rec.exit_code(0) == 0
    files = sorted(spool.iterdir())
    assert len(files) == 2 and all(f.stat().st_mode & 0o077 == 0 for f in files)
    rec = ScanRecorder(url, REPORTER, site="hq", sensor="s1", spool=spool, quiet=True)
    assert rec.open() is None
    with rec:
        rec.record(report([c_cam()], started=day(3)))
    assert list(spool.iterdir()) == []
    with Inventory.open(url, write=False) as inv:
        sweeps = inv.sweeps("hq")
        assert [s.started for s in sweeps] == [day(1), day(2), day(3)], "in order, once"
        # delivered in order: A missed days 2 and 3 (N = 2) and is gone
        assert sorted(r["status"] for r in inv.assets("hq")) == ["gone", "open"]
    # a spool file delivered again (a crash between import and unlink) changes nothing
    from camscan.inventory.spool import Spool

    Spool(spool).put(report([c_cam()], started=day(1)), uuid=sweeps[0].uuid, site="hq",
                     sensor="s1", cover=[])
    with Inventory.open(url) as inv:
        done = Spool(spool).deliver(inv)
        assert (done.sweeps, done.already) == (0, 1) and len(inv.sweeps()) == 3


def test_server_restart_mid_sweep(url: str, tmp_path: Path, pg_cluster: Cluster) -> None:
    spool = tmp_path / "spool"
    rec = ScanRecorder(url, REPORTER, site="hq", sensor="s1", spool=spool, quiet=True)
    assert rec.open() is None and not rec.spooling
    with rec:
        pg_cluster.stop()  # the server goes away during the sweep
        try:
            rec.record(report([a_cam("10.77.0.10")], started=day(1)))
        finally:
            pg_cluster.start()
    assert rec.spooled is not None and not rec.failed
    # back: the next run delivers the kept sweep before its own
    rec = ScanRecorder(url, REPORTER, site="hq", sensor="s1", spool=spool, quiet=True)
    assert rec.open() is None
    with rec:
        pg_cluster.stop()
        pg_cluster.start()  # restarted, and back before the sweep ends: recorded directly
        rec.record(report([a_cam("10.77.0.10"), c_cam()], started=day(2)))
    assert rec.spooled is None and rec.result is not None and rec.result.new == 1
    assert list(spool.iterdir()) == []
    with Inventory.open(url, write=False) as inv:
        assert [s.started for s in inv.sweeps("hq")] == [day(1), day(2)]
        assert len(inv.assets()) == 2


# --- credentials ----------------------------------------------------------------------------


@pytest.fixture
def password_role(pg_cluster: Cluster) -> str:
    """A role that must give its password (scram), in a database of its own."""
    dbname = "camscan_pw"
    pg_cluster.create_database(dbname)
    pg_cluster.sql("postgres", "DROP ROLE IF EXISTS camscan_pw")
    pg_cluster.sql("postgres", f"CREATE ROLE camscan_pw LOGIN PASSWORD '{SECRET}'")
    pg_cluster.sql("postgres", f"ALTER DATABASE {dbname} OWNER TO camscan_pw")
    hba = pg_cluster.data / "pg_hba.conf"
    text = hba.read_text()
    if "camscan_pw" not in text:
        hba.write_text("local all camscan_pw scram-sha-256\n" + text)
        pg_cluster.sql("postgres", "SELECT pg_reload_conf()")
    return f"postgresql://camscan_pw@/{dbname}?host={pg_cluster.socket_dir}"


def test_password_from_file_or_env_never_shown(password_role: str, tmp_path: Path,
                                               monkeypatch, caplog) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(Unreachable) as no_password:
        Inventory.open(password_role)
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o644)
    with pytest.raises(InventoryError, match=r"readable by others.*chmod 600") as loose:
        Inventory.open(password_role, password_file=pw)
    pw.chmod(0o600)
    with Inventory.open(password_role, password_file=pw) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
        out = io.StringIO()
        inv.export_jsonl(out)
        stored = [str(r) for r in inv.conn.execute("SELECT * FROM meta")]
    wrong = tmp_path / "wrong"
    wrong.write_text("not-" + SECRET + "\n")
    wrong.chmod(0o600)
    with pytest.raises(Unreachable, match="password authentication failed") as bad:
        Inventory.open(password_role, password_file=wrong)
    monkeypatch.setenv("PGPASSWORD", SECRET)
    with Inventory.open(password_role, write=False) as inv:
        assert inv.sites() == ["hq"]
    said = [str(e.value) for e in (no_password, loose, bad)] + [out.getvalue(), *stored,
                                                                  caplog.text]
    assert all(SECRET not in text for text in said)


def test_a_url_with_a_password_is_refused(tmp_path: Path) -> None:
    from camscan.config import ConfigError, parse_config

    for given in (f"postgresql://camscan:{SECRET}@db.example/camscan",
                  f"postgresql://camscan@db.example/camscan?password={SECRET}"):
        res = cli("sweeps", "--db", given)
        assert res.exit_code == 2 and "holds a password" in res.output
        assert SECRET not in res.output
        with pytest.raises(ConfigError, match="holds a password") as caught:
            parse_config(f'[inventory]\nurl = "{given}"\n', tmp_path / "c.toml")
        assert SECRET not in str(caught.value)
        with pytest.raises(InventoryError, match="holds a password") as lib:
            Inventory.open(given)
        assert SECRET not in str(lib.value)


def test_sslmode_is_passed_to_libpq(url: str, monkeypatch) -> None:
    # libpq itself judges it (a Unix socket never uses TLS, so the value is what is checked)
    with pytest.raises(Unreachable, match="sslmode"):
        Inventory.open(url + "&sslmode=bogus")
    with Inventory.open(url + "&sslmode=disable") as inv:
        assert inv.sweeps() == []
    import psycopg

    seen: dict[str, object] = {}

    def connect(**kwargs: object) -> None:
        seen.update(kwargs)
        raise psycopg.OperationalError("no server in this test")

    monkeypatch.setattr(psycopg, "connect", connect)
    with pytest.raises(Unreachable):
        Inventory.open("postgresql://camscan@db.example/inv?sslmode=verify-full"
                       "&sslrootcert=/etc/camscan/ca.pem")
    assert (seen["sslmode"], seen["sslrootcert"], seen["host"]) == (
        "verify-full", "/etc/camscan/ca.pem", "db.example")


# --- the commands across sites ----------------------------------------------------------------


def test_commands_across_all_sites_and_per_site(url: str, tmp_path: Path) -> None:
    with Inventory.open(url) as inv:
        for n, site in enumerate(("hq", "branch", "plant")):
            inv.record_sweep(site_report(n, day(1)), site, sensor=f"s-{site}")
            inv.record_sweep(report(site_devices(n)[:-3], started=day(2),
                                    targets=[f"10.77.{n}.0/24"]), site)
    res = cli("sweeps", "--db", url)
    assert res.exit_code == 0 and len(res.output.splitlines()) == 6
    res = cli("sweeps", "--db", url, "--site", "plant")
    assert res.exit_code == 0 and len(res.output.splitlines()) == 2
    res = cli("worklist", "--db", url, "-f", "json")
    rows = json.loads(res.output)["devices"]
    assert res.exit_code == 0 and len(rows) == 90
    assert {r["site"] for r in rows} == {"hq", "branch", "plant"}
    res = cli("worklist", "--db", url, "--site", "branch", "-f", "json")
    assert {r["site"] for r in json.loads(res.output)["devices"]} == {"branch"}
    res = cli("diff", "--db", url, "--site", "hq", "-f", "json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert len(d["unseen"]) + len(d["gone"]) == 3
    res = cli("worklist", "--db", url, "--site", "nowhere")
    assert res.exit_code == 2 and "known sites: branch, hq, plant" in res.output
    out = tmp_path / "all.jsonl"
    assert cli("export", "--db", url, "-o", str(out)).exit_code == 0
    assert len(out.read_text().splitlines()) == 6
    # into a SQLite file and back to another server schema: the same worklist
    res = cli("import", "--db", str(tmp_path / "copy.db"), str(out))
    assert res.exit_code == 0 and "6 sweep(s) added" in res.output
    with Inventory.open(tmp_path / "copy.db", write=False) as copy, \
            Inventory.open(url, write=False) as central:
        assert [(w.site, w.ip, w.status) for w in copy.worklist()] == [
            (w.site, w.ip, w.status) for w in central.worklist()]


def test_config_inventory_url_selects_the_server(url: str, tmp_path: Path) -> None:
    with Inventory.open(url) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
    conf = tmp_path / "config.toml"
    conf.write_text(f'[inventory]\nurl = "{url}"\nsensor = "north-1"\n')
    res = cli("sweeps", "--config", str(conf))
    assert res.exit_code == 0 and len(res.output.splitlines()) == 1
    assert not (tmp_path / "inventory.db").exists()
    conf.write_text(f'db = "x.db"\n[inventory]\nurl = "{url}"\n')
    res = cli("sweeps", "--config", str(conf))
    assert res.exit_code == 2 and "not both" in res.output


def test_a_foreign_database_is_refused_untouched(pg_cluster: Cluster) -> None:
    url = pg_schema_url(pg_cluster)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int)")
    with pytest.raises(InventoryError, match="not a camscan inventory"):
        Inventory.open(url)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = "
                              "current_schema()").fetchall()
    assert tables == [("customers",)]


def test_psycopg_is_loaded_only_for_a_server(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from camscan.inventory import Inventory; "
            f"Inventory.open({str(tmp_path / 'x.db')!r}).close(); "
            "print('psycopg' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ})
    assert res.stdout.strip() == "False"

"""The inventory commands through click, the scan hooks, and the cron/systemd recipes."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from camscan.app.record import ScanRecorder
from camscan.app.request import PlanError, ScanRequest
from camscan.app.request import plan_runs as app_plan_runs
from camscan.cli.common import REPORTER
from camscan.cli.inventory import register, setup_json_logging
from camscan.config import load_config
from camscan.eventlog import log_event
from camscan.exitcodes import ExitCode, combine_exit_codes
from camscan.inventory import Inventory, InventoryError, WriteLock
from camscan.models import Asset
from tests.unit.inventory_helpers import cam, not_inventories, report

EXIT_LOCKED = int(ExitCode.LOCKED)
EXIT_REAPPEARED = int(ExitCode.REAPPEARED)
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "inventory.md"
SERIAL_A = "DS-2CD2042WD-I20160516AACH571496385"


def day(n: int) -> str:
    return f"2026-11-{n:02d}T02:00:00+00:00"


def a_cam(ip: str) -> Asset:
    return cam(ip, serial=SERIAL_A)


def evil() -> Asset:
    return cam("10.77.0.66", brand="=HYPERLINK(\"http://x.invalid\")",
               model="\x1b[2J\x1b[31mPWNED", serial="EVIL1")


@pytest.fixture
def cli() -> click.Group:
    @click.group()
    def main() -> None:
        """test group"""

    register(main)
    return main


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "inv.db"
    with Inventory.open(path) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10"), cam("10.77.0.11", mac="00:11:22:33:44:55"),
                                 evil()], started=day(1)))
        inv.record_sweep(report([cam("10.77.0.31", mac="00:11:22:33:44:55"), evil()],
                                started=day(2)))
        inv.record_sweep(report([cam("10.77.0.31", mac="00:11:22:33:44:55"), evil()],
                                started=day(3)))
        inv.record_sweep(report([a_cam("10.77.0.40"), cam("10.77.0.31", mac="00:11:22:33:44:55"),
                                 evil()], started=day(4)))
    return path


def run(cli: click.Group, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- diff / worklist / mark / history / sweeps -----------------------------------------------


def test_diff_text_and_json(cli: click.Group, db: Path) -> None:
    code, out, _ = run(cli, "diff", "--db", str(db))
    assert code == 0
    assert "sweep 3 (" in out and "-> sweep 4 (" in out
    assert "reappeared (1):" in out and "10.77.0.40" in out and SERIAL_A in out
    assert "\x1b" not in out, "device text cannot drive the terminal"
    assert "unchanged: 2" in out
    code, out, _ = run(cli, "diff", "--db", str(db), "1", "2", "-f", "json")
    doc = json.loads(out)
    assert (doc["a"]["id"], doc["b"]["id"]) == (1, 2)
    assert [e["ip"] for e in doc["gone"]] == ["10.77.0.10"]
    assert [(c["field"], c["old"], c["new"]) for e in doc["changed"] for c in e["changes"]] == [
        ("ip", "10.77.0.11", "10.77.0.31")]
    code, _, err = run(cli, "diff", "--db", str(db), "1")
    assert code == 2 and "two sweeps" in err


def test_worklist_csv_json_html(cli: click.Group, db: Path, tmp_path: Path) -> None:
    code, out, _ = run(cli, "worklist", "--db", str(db))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["ip"] for r in rows] == ["10.77.0.31", "10.77.0.40", "10.77.0.66"]
    by_ip = {r["ip"]: r for r in rows}
    assert by_ip["10.77.0.40"]["status"] == "reappeared"
    assert by_ip["10.77.0.40"]["addresses"] == "10.77.0.10 10.77.0.40"
    assert by_ip["10.77.0.40"]["first_seen"] == day(1)
    assert by_ip["10.77.0.40"]["last_seen"] == day(4)
    assert by_ip["10.77.0.66"]["brand"].startswith("'="), "formula injection defused"
    for col in ("site", "mac", "brand", "manufacturer", "model", "serial", "firmware",
                "verdict", "confidence", "why"):
        assert col in rows[0]
    code, out, _ = run(cli, "worklist", "--db", str(db), "-f", "json")
    doc = json.loads(out)
    assert doc["count"] == 3 and doc["devices"][0]["evidence"]
    html = tmp_path / "w.html"
    code, out, _ = run(cli, "worklist", "--db", str(db), "-f", "html", "-o", str(html))
    assert code == 0 and out == ""
    text = html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "PWNED" in text
    assert "<script" not in text


def test_mark_survives_and_locks(cli: click.Group, db: Path) -> None:
    code, out, _ = run(cli, "mark", "--db", str(db), "10.77.0.31", "removed", "-n", "pulled")
    assert (code, out.strip()) == (0, "asset 2: removed")
    code, out, _ = run(cli, "worklist", "--db", str(db), "-f", "json")
    assert [d["ip"] for d in json.loads(out)["devices"]] == ["10.77.0.40", "10.77.0.66"]
    with Inventory.open(db) as inv:
        inv.record_sweep(report([a_cam("10.77.0.40"), evil()], started=day(5)))
        assert inv.asset_status(2) == "removed"
    code, out, _ = run(cli, "history", "--db", str(db), "2")
    assert "10.77.0.11" in out and "10.77.0.31" in out and "pulled" in out
    code, _, err = run(cli, "mark", "--db", str(db), "nothing-like-this", "exempt")
    assert code == 1 and "no such asset" in err
    code, _, err = run(cli, "mark", "--db", str(db), "2", "gone")
    assert code == 2
    lock = WriteLock(db)
    lock.acquire()
    try:
        code, _, err = run(cli, "mark", "--db", str(db), "2", "exempt")
    finally:
        lock.release()
    assert code == EXIT_LOCKED and "another camscan sweep" in err


def test_sweeps_and_history_json(cli: click.Group, db: Path) -> None:
    code, out, _ = run(cli, "sweeps", "--db", str(db))
    assert code == 0 and len(out.splitlines()) == 4 and "complete" in out
    code, out, _ = run(cli, "history", "--db", str(db), SERIAL_A, "-f", "json")
    h = json.loads(out)
    assert [c["new"] for c in h["changes"]] == ["open", "gone", "reappeared"]


def test_export_import_idempotent(cli: click.Group, db: Path, tmp_path: Path) -> None:
    dump = tmp_path / "hq.jsonl"
    code, _, err = run(cli, "export", "--db", str(db), "-o", str(dump))
    assert code == 0 and "exported 4 line(s)" in err
    other = tmp_path / "central.db"
    code, out, _ = run(cli, "import", "--db", str(other), str(dump))
    assert code == 0 and "4 sweep(s) added, 0 already there" in out
    code, out, _ = run(cli, "import", "--db", str(other), "-")
    assert code == 0  # empty stdin: nothing
    code, out, _ = run(cli, "import", "--db", str(other), "-", input=dump.read_text())
    assert "0 sweep(s) added, 4 already there" in out
    code, a, _ = run(cli, "worklist", "--db", str(db))
    code, b, _ = run(cli, "worklist", "--db", str(other))
    assert a == b
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dump.read_text() + "{oops\n")
    code, _, err = run(cli, "import", "--db", str(tmp_path / "third.db"), str(bad))
    assert code == 1 and "bad.jsonl:5: not a camscan export line" in err
    with Inventory.open(tmp_path / "third.db") as inv:
        assert inv.sweeps() == [], "all or nothing"


def test_bad_databases_and_configs(cli: click.Group, tmp_path: Path) -> None:
    code, _, err = run(cli, "worklist", "--db", str(tmp_path / "none.db"))
    assert code == 2 and "no inventory there" in err
    assert not (tmp_path / "none.db").exists()
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    for args in (["diff"], ["worklist"], ["mark", "1", "removed"], ["import", "-"]):
        code, _, err = run(cli, *args, "--db", str(foreign), input="")
        assert code == 2 and "not a camscan inventory" in err, args
        assert "Traceback" not in err
    assert foreign.read_bytes() == before
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sites.hq]\ntargets = ['10.0.0.1']\nrat = 5\n")
    code, _, err = run(cli, "worklist", "--config", str(cfg))
    assert code == 2 and "sites.hq.rat: unknown key" in err


def test_config_names_the_db(cli: click.Group, db: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"db = {str(db)!r}\n")
    code, out, _ = run(cli, "sweeps", "--config", str(cfg))
    assert code == 0 and len(out.splitlines()) == 4


def test_default_db_under_xdg_data_home(cli: click.Group, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    target = tmp_path / ".local" / "share" / "camscan" / "inventory.db"
    target.parent.mkdir(parents=True)
    with Inventory.open(target) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    code, out, _ = run(cli, "worklist", "-f", "json")
    assert code == 0 and json.loads(out)["count"] == 1


# --- the scan hooks ---------------------------------------------------------------------------


def test_recorder_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "inv.db"
    none = ScanRecorder(None, REPORTER)
    assert none.open() is None
    none.record(report([a_cam("10.77.0.10")], started=day(1)))
    assert none.exit_code(ExitCode.FLAGGED) == 3
    assert not db.exists()

    for n, assets in ((1, [a_cam("10.77.0.10")]), (2, []), (3, [])):
        rec = ScanRecorder(db, REPORTER, site="hq", gone_after=2)
        assert rec.open() is None
        with rec:
            rec.record(report(assets, started=day(n)))
        assert rec.exit_code(ExitCode.FLAGGED if assets else ExitCode.OK) == (
            3 if assets else 0)
    assert "recorded sweep 3" in capsys.readouterr().err
    rec = ScanRecorder(db, REPORTER, site="hq", quiet=True)
    assert rec.open() is None
    with rec:
        rec.record(report([a_cam("10.77.0.50")], started=day(4)))
    assert capsys.readouterr().err == "", "--quiet: nothing but errors"
    assert rec.exit_code(ExitCode.FLAGGED) == EXIT_REAPPEARED
    assert rec.exit_code(ExitCode.INTERRUPTED) == 130
    # locked and foreign inventories are refused before anything is sent
    holder = ScanRecorder(db, REPORTER)
    assert holder.open() is None
    try:
        assert ScanRecorder(db, REPORTER).open() == EXIT_LOCKED
    finally:
        holder.__exit__(None, None, None)
    assert "another camscan sweep" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 100)
    assert ScanRecorder(junk, REPORTER).open() == int(ExitCode.USAGE)


def test_recorder_uses_scope_coverage(tmp_path: Path) -> None:
    from camscan.targets import build_scope

    db = tmp_path / "inv.db"
    scope = build_scope(["lab-host.invalid"], resolver=lambda name: ["10.77.0.10"])
    for n, assets in ((1, [a_cam("10.77.0.10")]), (2, []), (3, [])):
        rec = ScanRecorder(db, REPORTER, quiet=True)
        rec.open()
        with rec:
            r = report(assets, started=day(n), targets=["lab-host.invalid"])
            rec.record(r, scope)
    with Inventory.open(db) as inv:
        assert [a["status"] for a in inv.assets()] == ["gone"], \
            "a host-name target covers the address it resolved to"


def test_combine_exit_codes() -> None:
    assert combine_exit_codes([0, 3, 5]) == 5
    assert combine_exit_codes([3, 0]) == 3
    assert combine_exit_codes([5, 4]) == 4
    assert combine_exit_codes([3, 130]) == 130
    assert combine_exit_codes([]) == 0


def _base(targets: tuple[str, ...] = (), **fields: object) -> ScanRequest:
    return ScanRequest(targets=targets, **fields)  # type: ignore[arg-type]


def plan_runs(base: ScanRequest, *, config_path: Path | None = None,
              **options: object) -> list[ScanRequest]:
    """The app's pure plan with the config read as ``camscan scan`` reads it."""
    config = load_config(config_path, required=config_path is not None)
    return app_plan_runs(base, config, config_given=config_path is not None,
                         **options)  # type: ignore[arg-type]


def test_plan_runs_from_config(tmp_path: Path) -> None:
    creds = tmp_path / "creds.toml"
    creds.write_text('[[device]]\ntarget = "10.2.0.0/24"\nusername = "admin"\n'
                     'password = "s3cret-not-shown"\n')
    creds.chmod(0o600)
    cfg = tmp_path / "c.toml"
    cfg.write_text(textwrap_config(tmp_path, creds))
    base = _base(output=tmp_path / "last.json")
    runs = plan_runs(base, config_path=cfg)
    assert [r.output for r in runs] == [tmp_path / "last.hq.json", tmp_path / "last.branch.json"]
    assert [(r.targets, getattr(r, "site", None), r.policy, r.rate) for r in runs] == [
        (("10.1.0.0/24",), "hq", "ndaa-889", 50.0),
        (("10.2.0.0/24",), "branch", "canada-2025", 300.0),
    ]
    assert all(getattr(r, "db", None) == tmp_path / "inv.db" for r in runs)
    assert runs[0].excludes == ("10.1.0.1",)
    assert runs[1].credentials == creds
    assert runs[0].credentials is None
    given_creds = _base(credentials=tmp_path / "cli-creds.toml")
    assert all(r.credentials == tmp_path / "cli-creds.toml"
               for r in plan_runs(given_creds, config_path=cfg)), "--credentials wins"
    one = plan_runs(base, config_path=cfg, site="branch")
    assert [getattr(r, "site", None) for r in one] == ["branch"]
    assert one[0].output == tmp_path / "last.json", "one site: the name as given"
    with pytest.raises(PlanError, match="no site named 'nowhere'"):
        plan_runs(_base(), config_path=cfg, site="nowhere")
    no_db = plan_runs(_base(), config_path=cfg, no_db=True)
    assert {getattr(r, "db", "x") for r in no_db} == {None}
    # TARGETS on the command line: one run, recorded under --site into the config's db
    given = plan_runs(_base(targets=("127.0.0.1",)), config_path=cfg, site="hq")
    assert [(r.targets, getattr(r, "site", None), r.db) for r in given] == [
        (("127.0.0.1",), "hq", tmp_path / "inv.db")]


def textwrap_config(tmp_path: Path, creds: Path) -> str:
    return (f"db = {str(tmp_path / 'inv.db')!r}\npolicy = 'canada-2025'\nrate = 300\n"
            "[sites.hq]\ntargets = ['10.1.0.0/24']\nexcludes = ['10.1.0.1']\n"
            "policy = 'ndaa-889'\nrate = 50\n"
            f"[sites.branch]\ntargets = ['10.2.0.0/24']\ncredentials = {str(creds)!r}\n")


def test_plan_runs_without_targets_or_config(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    with pytest.raises(PlanError, match="give TARGETS"):
        plan_runs(_base())
    plain = plan_runs(_base(targets=("127.0.0.1",)))
    assert getattr(plain[0], "db", None) is None, "a plain scan writes no database"


def test_json_lines_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    setup_json_logging(path)
    try:
        log_event("sweep.recorded", sweep=3, reappeared=[7])
        log_event("error", message="boom")
    finally:
        setup_json_logging(None)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["event"], x.get("sweep")) for x in lines] == [("sweep.recorded", 3),
                                                              ("error", None)]
    assert lines[0]["reappeared"] == [7] and "time" in lines[0]


# --- the real command line: crontab and systemd recipes, as documented -------------------------


def _integrated() -> bool:
    return "db" in {f.name for f in dataclasses.fields(ScanRequest)}


needs_integration = pytest.mark.skipif(
    not _integrated(),
    reason="camscan/cli and camscan/app do not call the inventory hooks yet",
)


def _camscan_bin() -> str:
    exe = Path(sys.executable).with_name("camscan")
    if exe.exists():
        return str(exe.parent)
    pytest.skip("the camscan console script is not installed next to this Python")


def _doc_block(name: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(rf"<!-- {name}:begin -->\n```\w+\n(.*?)```\n<!-- {name}:end -->", text, re.S)
    assert m, f"{name} block missing from docs/inventory.md"
    return m.group(1)


def _env(home: Path, path: str) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": path, "LOGNAME": "camscan-test", "SHELL": "/bin/sh"}
    # the rules cache (an XDG cache, not a record) stays in the test session's folder
    for name in ("PYTHONPATH", "CAMSCAN_CACHE_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _lab_config(home: Path) -> None:
    cfg = home / ".config" / "camscan"
    cfg.mkdir(parents=True)
    (home / ".local" / "share" / "camscan").mkdir(parents=True)
    # a loopback "site" on a port nothing listens on: a real sweep that sends only to 127/8
    (cfg / "config.toml").write_text('[sites.lab]\ntargets = ["127.0.0.1"]\nrate = 50\n')


@needs_integration
@pytest.mark.timeout(240)
def test_crontab_line_runs_as_written(tmp_path: Path) -> None:
    block = _doc_block("crontab").strip().splitlines()
    env_lines = [ln for ln in block if re.match(r"^[A-Z_]+=", ln)]
    jobs = [ln for ln in block if ln and not ln.startswith("#") and ln not in env_lines]
    assert len(jobs) == 1
    fields = jobs[0].split(None, 5)
    assert len(fields) == 6 and "%" not in fields[5], "a bare % is a newline in crontab"
    command = fields[5]
    cron_path = dict(ln.split("=", 1) for ln in env_lines)["PATH"]
    home = tmp_path / "home"
    _lab_config(home)
    env = _env(home, f"{_camscan_bin()}:{cron_path}")
    proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True,
                          timeout=200, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", ""), "quiet: cron mails nothing"
    data = home / ".local" / "share" / "camscan"
    last = json.loads((data / "last-sweep.json").read_text())
    assert last["scan"]["targets"] == ["127.0.0.1"]
    events = [json.loads(x)["event"] for x in (data / "sweeps.jsonl").read_text().splitlines()]
    assert events == ["scan.start", "sweep.recorded", "scan.end"]
    with Inventory.open(data / "inventory.db", write=False) as inv:
        assert [(s.site, s.complete) for s in inv.sweeps()] == [("lab", True)]
    # a second sweep while one is running: cron gets one line naming the exit code
    lock = WriteLock(data / "inventory.db")
    lock.acquire()
    try:
        proc = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True,
                              text=True, timeout=200, check=False)
    finally:
        lock.release()
    assert proc.stdout.startswith(f"camscan exited {EXIT_LOCKED} ")
    assert "another camscan sweep" in proc.stderr


@needs_integration
@pytest.mark.timeout(240)
def test_systemd_units_verify_and_run(tmp_path: Path) -> None:
    service, timer = _doc_block("systemd-service"), _doc_block("systemd-timer")
    exec_start = re.search(r"^ExecStart=(.+)$", service, re.M)
    assert exec_start
    argv = shlex.split(exec_start.group(1))
    assert argv[0] == "/usr/local/bin/camscan"
    camscan = str(Path(_camscan_bin()) / "camscan")
    ok = {0} | {int(x) for x in re.findall(r"^SuccessExitStatus=(.+)$", service,
                                            re.M)[0].split()}
    analyze = shutil.which("systemd-analyze")
    if analyze:
        units = tmp_path / "units"
        units.mkdir()
        (units / "camscan.service").write_text(service.replace("/usr/local/bin/camscan",
                                                               camscan))
        (units / "camscan.timer").write_text(timer)
        proc = subprocess.run([analyze, "verify", str(units / "camscan.service"),
                               str(units / "camscan.timer")], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    # run the ExecStart line with the system folders mapped into a temporary root
    root = tmp_path / "root"
    mapping = {"/etc/camscan": root / "etc", "/var/lib/camscan": root / "lib",
               "/var/log/camscan": root / "log"}
    for d in mapping.values():
        d.mkdir(parents=True)
    (root / "etc" / "config.toml").write_text(
        f'db = "{root / "lib" / "inventory.db"}"\n[sites.lab]\ntargets = ["127.0.0.1"]\n')
    args = [camscan]
    for a in argv[1:]:
        for src, dst in mapping.items():
            a = a.replace(src, str(dst))
        args.append(a)
    proc = subprocess.run(args, env=_env(tmp_path, "/usr/bin:/bin"), capture_output=True,
                          text=True, timeout=200, check=False)
    assert proc.returncode in ok, proc.stderr
    assert proc.stderr == ""
    assert (root / "lib" / "last-sweep.json").is_file()
    assert (root / "log" / "sweeps.jsonl").is_file()
    with Inventory.open(root / "lib" / "inventory.db", write=False) as inv:
        assert len(inv.sweeps()) == 1


def _tarpit() -> tuple[socket.socket, int]:
    """A loopback listener that accepts and never answers: a sweep hangs on it."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    return srv, int(srv.getsockname()[1])


@needs_integration
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_sweep_killed_midway_loses_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    db = tmp_path / "inv.db"
    with Inventory.open(db) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)))
    srv, port = _tarpit()
    camscan = str(Path(_camscan_bin()) / "camscan")
    held: list[socket.socket] = []
    try:
        child = subprocess.Popen(
            [camscan, "scan", "127.0.0.1", "-p", str(port), "--db", str(db), "--quiet",
             "--timeout", "60", "-f", "json", "-o", str(tmp_path / "out.json")],
            env=_env(tmp_path, "/usr/bin:/bin"), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        srv.settimeout(60)
        conn, _ = srv.accept()  # the sweep is under way (and holds the inventory's lock)
        held.append(conn)
        assert WriteLock(db).path.exists()
        with pytest.raises(InventoryError):
            Inventory.open(db, lock=True)
        child.send_signal(sig)
        _, err = child.communicate(timeout=60)
    finally:
        for c in held:
            c.close()
        srv.close()
    with Inventory.open(db, lock=True) as inv:  # the lock died with the process
        sweeps = inv.sweeps()
        assert sweeps[0].started == day(1)
        assert inv.asset_status(1) == "open"
        if sig == signal.SIGKILL:
            assert child.returncode == -signal.SIGKILL
            assert len(sweeps) == 1, "a killed sweep records nothing, and breaks nothing"
        else:
            assert child.returncode == 130, err
            assert [(s.complete, s.partial_reason is not None) for s in sweeps[1:]] == [
                (False, True)], "an interrupted sweep is recorded as partial"


class _FakeCamera:
    """A loopback HTTP responder that answers every request with a captured Hikvision reply
    (tests/captures/http/lab-hikvision-v5.6-usercheck-401.http)."""

    CAPTURE = ROOT / "tests" / "captures" / "http" / "lab-hikvision-v5.6-usercheck-401.http"

    def __init__(self, ip: str) -> None:
        self.reply = self.CAPTURE.read_bytes()
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind((ip, 0))
        self.srv.listen(32)
        self.srv.settimeout(0.2)
        self.port = int(self.srv.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.settimeout(2)
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.srv.close()


@needs_integration
@pytest.mark.timeout(240)
def test_lab_removed_and_back_through_the_cli(tmp_path: Path) -> None:
    ip = "127.0.0.77"
    cfg = tmp_path / "config.toml"
    db = tmp_path / "inv.db"
    cfg.write_text(f'db = "{db}"\ngone_after = 1\n[sites.lab]\ntargets = ["{ip}"]\n')
    camscan = str(Path(_camscan_bin()) / "camscan")

    def sweep(port: int) -> int:
        proc = subprocess.run(
            [camscan, "scan", "--config", str(cfg), "-p", str(port), "--quiet", "-o",
             str(tmp_path / "last.json"), "-f", "json"],
            env=_env(tmp_path, "/usr/bin:/bin"), capture_output=True, text=True, timeout=200,
            check=False)
        assert proc.stderr == "", proc.stderr
        return proc.returncode

    device = _FakeCamera(ip)
    port = device.port
    try:
        assert sweep(port) == int(ExitCode.FLAGGED)
    finally:
        device.close()
    assert sweep(port) == int(ExitCode.OK)  # the technician pulled it
    with Inventory.open(db, write=False) as inv:
        assert [a["status"] for a in inv.assets()] == ["gone"]
        assert [e.ip for e in inv.diff().gone] == [ip]
        assert inv.worklist() == []
    device = _FakeCamera(ip)
    try:
        if device.port != port:  # the port is picked by the kernel: sweep the new one
            port = device.port
        assert sweep(port) == EXIT_REAPPEARED
    finally:
        device.close()
    with Inventory.open(db, write=False) as inv:
        assert [e.ip for e in inv.diff().reappeared] == [ip]
        work = inv.worklist()
        assert [(w.ip, w.status, w.manufacturer) for w in work] == [
            (ip, "reappeared", "Hikvision")]


# --- issue 12: the inventory must never lie ---------------------------------------------------


def _tree(root: Path) -> list[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            out.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(out)


def test_plan_runs_records_only_inventory_runs(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "cfg" / "camscan").mkdir(parents=True)
    default_cfg = tmp_path / "cfg" / "camscan" / "config.toml"
    default_cfg.write_text('[sites.hq]\ntargets = ["127.0.0.1"]\n')
    default_db = tmp_path / "data" / "camscan" / "inventory.db"
    plain = plan_runs(_base(targets=("127.0.0.2",)))
    assert [r.db for r in plain] == [None], "a config exists, but a plain scan records nothing"
    assert not (tmp_path / "data").exists(), "not even the data folder is made"
    assert [r.db for r in plan_runs(_base(targets=("127.0.0.2",)), site="hq")] == [default_db]
    assert [r.db for r in plan_runs(_base(targets=("127.0.0.2",)),
                                    config_path=default_cfg)] == [default_db]
    given = tmp_path / "given.db"
    assert [r.db for r in plan_runs(_base(targets=("127.0.0.2",)), db=given)] == [given]
    assert [(r.db, r.site) for r in plan_runs(_base())] == [(default_db, "hq")], \
        "sweeping the config's sites records"


def test_scan_help_says_which_runs_record() -> None:
    from camscan.cli import main

    out = CliRunner().invoke(main, ["scan", "--help"], terminal_width=200).output
    flat = " ".join(out.split())
    assert "Only runs given --db, --config or --site" in flat
    assert "A plain `scan TARGETS` records nothing, even when a config file exists" in flat
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "records nothing, even when a config file exists" in readme
    docs = " ".join(DOCS.read_text(encoding="utf-8").split())
    assert "records nothing, even when a config file exists" in docs


@pytest.mark.timeout(120)
def test_plain_scan_records_nothing_through_the_cli(tmp_path: Path) -> None:
    ip = "127.0.0.79"
    home = tmp_path / "home"
    (home / ".config" / "camscan").mkdir(parents=True)
    (home / ".config" / "camscan" / "config.toml").write_text(
        f'[sites.lab]\ntargets = ["{ip}"]\n')
    camscan = str(Path(_camscan_bin()) / "camscan")
    device = _FakeCamera(ip)

    def scan(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [camscan, "scan", ip, "-p", str(device.port), "--quiet", "-f", "json", "-o",
             str(tmp_path / "out.json"), *extra],
            env=_env(home, "/usr/bin:/bin"), capture_output=True, text=True, timeout=100,
            check=False)

    try:
        before = _tree(home)
        plain = scan()
        assert plain.returncode == int(ExitCode.FLAGGED), plain.stderr
        assert _tree(home) == before, "no inventory, no folder, no lock file"
        typo = scan("--site", "LAB")
        assert typo.returncode == int(ExitCode.USAGE)
        assert "no site named 'LAB' (sites: lab)" in typo.stderr
        assert _tree(home) == before
        recorded = scan("--site", "lab")
        assert recorded.returncode == int(ExitCode.FLAGGED), recorded.stderr
    finally:
        device.close()
    db = home / ".local" / "share" / "camscan" / "inventory.db"
    with Inventory.open(db, write=False) as inv:
        assert [(s.site, s.devices) for s in inv.sweeps()] == [("lab", 1)]


@pytest.mark.parametrize("command", [
    ["worklist"], ["worklist", "-f", "json"], ["worklist", "-f", "html"], ["export"],
    ["sweeps"], ["diff"], ["history", "1"], ["mark", "1", "removed"],
])
def test_unknown_site_is_a_usage_error(cli: click.Group, tmp_path: Path,
                                       command: list[str]) -> None:
    path = tmp_path / "inv.db"
    with Inventory.open(path) as inv:
        for n in (1, 2):
            inv.record_sweep(report([a_cam("10.77.0.10")], started=day(n)), "hq")
        inv.record_sweep(report([cam("10.77.0.11", serial="B1")], started=day(3)), "branch")
    code, out, err = run(cli, *command, "--db", str(path), "--site", "HQ")
    assert code == int(ExitCode.USAGE)
    assert out == "", "never an empty (all clear) report"
    assert "'HQ'" in err and "known sites: branch, hq" in err and "did you mean 'hq'" in err
    with Inventory.open(path, write=False) as inv:
        assert inv.asset_status(1) == "open", "nothing marked"
    code, out, _ = run(cli, *command, "--db", str(path), "--site", "hq")
    assert code == 0 and out


def test_scan_site_typo_in_a_config_is_a_usage_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'db = "{tmp_path / "inv.db"}"\n[sites.hq]\ntargets = ["127.0.0.1"]\n'
                   '[sites.branch]\ntargets = ["127.0.0.2"]\n')
    for targets in ((), ("127.0.0.3",)):
        with pytest.raises(PlanError, match=r"no site named 'typo' \(sites: branch, hq\)"):
            plan_runs(_base(targets=targets), config_path=cfg, site="typo")
        code, _, err = run_main(["scan", *targets, "--config", str(cfg), "--site", "typo"])
        assert code == int(ExitCode.USAGE)
        assert "no site named 'typo' (sites: branch, hq)" in err
    assert not (tmp_path / "inv.db").exists()


def run_main(args: list[str]) -> tuple[int, str, str]:
    from camscan.cli import main

    res = CliRunner().invoke(main, args)
    return res.exit_code, res.stdout, res.stderr


def test_recorder_refuses_a_site_that_differs_only_by_case(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "inv.db"
    with Inventory.open(db) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(1)), "hq")
    rec = ScanRecorder(db, REPORTER, site="HQ")
    assert rec.open() == int(ExitCode.USAGE)
    assert "the inventory has site 'hq'" in capsys.readouterr().err
    assert rec.inventory is None
    ok = ScanRecorder(db, REPORTER, site="branch")
    assert ok.open() is None
    with ok:
        pass


def test_read_only_commands_create_nothing(cli: click.Group, db: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    foreign, text = not_inventories(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "camscan-sweep"}\n')
    good = tmp_path / "good.jsonl"
    code, _, _ = run(cli, "export", "--db", str(db), "-o", str(good))
    assert code == 0
    before = _tree(tmp_path)
    missing = str(tmp_path / "missing.db")
    cases: list[tuple[list[str], int]] = [
        # the default inventory does not exist (nor its folder)
        (["diff"], 2), (["worklist"], 2), (["sweeps"], 2), (["history", "1"], 2),
        (["mark", "1", "removed"], 2), (["export"], 2),
        (["mark", "--db", missing, "1", "removed"], 2), (["worklist", "--db", missing], 2),
        (["diff", "--db", missing], 2),
        # refused files
        *[([cmd, "--db", str(p)], 2) for p in (foreign, text)
          for cmd in ("diff", "worklist", "sweeps")],
        *[(["mark", "--db", str(p), "1", "removed"], 2) for p in (foreign, text)],
        *[(["import", "--db", str(p), str(good)], 2) for p in (foreign, text)],
        # failed imports: a bad file, a missing file, a good file then a bad one
        (["import", "--db", missing, str(bad)], 1),
        (["import", "--db", missing, str(tmp_path / "none.jsonl")], 1),
        (["import", "--db", missing, str(good), str(bad)], 1),
        (["import", "--db", str(db), str(good), str(bad)], 1),
        # reading an inventory that exists
        (["diff", "--db", str(db)], 0), (["diff", "--db", str(db), "-f", "json"], 0),
        (["worklist", "--db", str(db)], 0), (["worklist", "--db", str(db), "-f", "html"], 0),
        (["sweeps", "--db", str(db)], 0), (["history", "--db", str(db), "1"], 0),
        (["export", "--db", str(db)], 0),
    ]
    for args, want in cases:
        code, _, err = run(cli, *args)
        assert code == want, (args, err)
        assert _tree(tmp_path) == before, args
    with Inventory.open(db, write=False) as inv:
        assert len(inv.sweeps()) == 4, "a good file then a bad one: nothing imported"


def test_worklist_shows_notes_and_uncertain_identity_in_every_format(
        cli: click.Group, tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    moved = cam("10.77.0.32", model="LTN8708", brand="LTS", firmware="V3.4")
    with Inventory.open(path) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10"), cam("10.77.0.12", model="LTN8708",
                                 brand="LTS", firmware="V3.4")], started=day(1)))
        inv.mark(1, "removed", "pulled, ticket 4411", at="2026-11-01T12:00:00+00:00",
                 who="jtech")
        inv.record_sweep(report([a_cam("10.77.0.10"), moved], started=day(2)))
    code, out, _ = run(cli, "worklist", "--db", str(path))
    assert code == 0
    rows = {r["ip"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"10.77.0.10", "10.77.0.32"}, "the moved device is listed once"
    assert "removed by jtech: pulled, ticket 4411" in rows["10.77.0.10"]["notes"]
    assert "may be the same device as #2" in rows["10.77.0.32"]["identity"]
    code, out, _ = run(cli, "worklist", "--db", str(path), "-f", "json")
    doc = json.loads(out)
    assert doc["count"] == 2
    by_ip = {d["ip"]: d for d in doc["devices"]}
    assert by_ip["10.77.0.10"]["notes"] == [{"at": "2026-11-01T12:00:00+00:00",
                                            "who": "jtech", "status": "removed",
                                            "note": "pulled, ticket 4411"}]
    assert by_ip["10.77.0.32"]["same_as"] == 2
    code, out, _ = run(cli, "worklist", "--db", str(path), "-f", "html")
    assert code == 0
    assert "pulled, ticket 4411" in out and "may be the same device as #2" in out


def test_diff_shows_returned_and_reappeared_groups(cli: click.Group, tmp_path: Path) -> None:
    path = tmp_path / "inv.db"
    with Inventory.open(path) as inv:
        inv.record_sweep(report([a_cam("10.77.0.10"), cam("10.77.0.11", serial="B1")],
                                started=day(1)))
        inv.mark(1, "removed", "pulled", at="2026-11-01T12:00:00+00:00")
        inv.record_sweep(report([a_cam("10.77.0.10")], started=day(2)))
        inv.record_sweep(report([a_cam("10.77.0.10"), cam("10.77.0.11", serial="B1")],
                                started=day(3)))
    code, out, _ = run(cli, "diff", "--db", str(path), "1", "2")
    assert "reappeared (1):" in out and "10.77.0.10" in out and "unchanged: 0" in out
    code, out, _ = run(cli, "diff", "--db", str(path), "2", "3")
    assert code == 0 and "returned, never gone or removed (1):" in out and "reappeared" not in out
    code, out, _ = run(cli, "diff", "--db", str(path), "2", "3", "-f", "json")
    assert code == 0
    doc = json.loads(out)
    assert [e["ip"] for e in doc["returned"]] == ["10.77.0.11"] and doc["reappeared"] == []


def test_config_credentials_file_missing_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sites.plant-a]\ntargets = ["127.0.0.1"]\ncredentials = "none.toml"\n')
    message = f"{cfg}: sites.plant-a.credentials: {tmp_path / 'none.toml'}: file not found"
    with pytest.raises(PlanError) as info:
        plan_runs(_base(), config_path=cfg, no_db=True)
    assert str(info.value) == message
    code, _, err = run_main(["scan", "--config", str(cfg), "--no-db"])
    assert code == int(ExitCode.USAGE) and message in err


def test_sensor_and_server_settings_reach_the_recorder(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[inventory]\nurl = "postgresql://camscan@inv.example/camscan"\n'
                   'password_file = "pw"\nsensor = "from-config"\nspool = "sp"\n'
                   '[sites.hq]\ntargets = ["10.1.0.0/24"]\n')
    (run,) = plan_runs(_base(), config_path=cfg)
    rec = ScanRecorder.for_request(run, REPORTER)
    assert (rec.db, rec.sensor, rec.password_file, rec.spool_dir) == (
        "postgresql://camscan@inv.example/camscan", "from-config", tmp_path / "pw",
        tmp_path / "sp")
    (run,) = plan_runs(_base(), config_path=cfg, sensor="given")
    assert ScanRecorder.for_request(run, REPORTER).sensor == "given"
    (run,) = plan_runs(_base(("10.9.0.1",)), db=tmp_path / "x.db", sensor="s2")
    rec = ScanRecorder.for_request(run, REPORTER)
    assert (rec.db, rec.sensor, rec.spool_dir) == (tmp_path / "x.db", "s2", None)
    with pytest.raises(PlanError, match="--sensor 'no spaces'"):
        plan_runs(_base(("10.9.0.1",)), db=tmp_path / "x.db", sensor="no spaces")
    code, _, err = run_main(["scan", "10.9.0.1", "--db", str(tmp_path / "x.db"),
                             "--sensor", "no spaces"])
    assert code == int(ExitCode.USAGE) and "sensor names are letters" in err


def test_the_sensor_is_recorded_with_the_sweep(tmp_path: Path) -> None:
    rec = ScanRecorder(tmp_path / "inv.db", REPORTER, site="hq", sensor="north-1", quiet=True)
    assert rec.open() is None
    with rec:
        rec.record(report([cam("10.77.0.10")], started="2026-11-01T02:00:00+00:00"))
    with Inventory.open(tmp_path / "inv.db", write=False) as inv:
        assert [r[0] for r in inv.conn.execute("SELECT sensor FROM sweeps")] == ["north-1"]

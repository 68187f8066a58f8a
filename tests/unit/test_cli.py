"""The command line, through click's CliRunner. Scans go only to 127.0.0.1, to a listener
started here; everything else uses --dry-run or fails before sending anything."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from camscan.cli import main
from camscan.exitcodes import ExitCode


class Listener:
    """A loopback TCP listener in a thread that counts accepted connections."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    try:
        yield lst
    finally:
        lst.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result, *fragments: str) -> None:
    err = result.stderr.strip().splitlines()
    errors = [ln for ln in err if ln.startswith("camscan: error:")]
    assert len(errors) == 1, result.stderr
    for f in fragments:
        assert f in errors[0]
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("scan", "fingerprints", "policies", "schema"):
        assert command in result.output
    assert "Exit codes" in result.output


def test_scan_help() -> None:
    result = run("scan", "--help")
    assert result.exit_code == 0
    assert "--dry-run" in result.output and "9100-9107" in result.output


@pytest.mark.parametrize("token", ["10.0.0.300", "10.1.2.40-10", "::1", "a..b"])
def test_bad_target_is_a_usage_error_naming_the_token(token: str) -> None:
    result = run("scan", "--dry-run", token)
    assert result.exit_code == int(ExitCode.USAGE) == 2
    assert_one_line_error(result, token)


def test_bad_exclude_is_a_usage_error() -> None:
    result = run("scan", "--dry-run", "127.0.0.1", "-x", "127.0.0.999")
    assert result.exit_code == 2
    assert_one_line_error(result, "127.0.0.999")


def test_too_many_addresses_needs_force() -> None:
    result = run("scan", "--dry-run", "10.0.0.0/15")
    assert result.exit_code == 2
    assert_one_line_error(result, "--force")
    forced = run("scan", "--dry-run", "--force", "10.0.0.0/15")
    assert forced.exit_code == 0
    assert "131070 address(es) would be scanned" in forced.output


def test_dry_run_prints_the_count_and_sends_nothing(listener: Listener) -> None:
    result = run("scan", "--dry-run", "-p", str(listener.port), "127.0.0.1-4",
                 "-x", "127.0.0.3")
    assert result.exit_code == 0, result.output + result.stderr
    assert "3 address(es) would be scanned" in result.output
    assert "nothing was sent" in result.output
    assert listener.accepted == 0


def test_ports_only_printer_ports_is_a_usage_error() -> None:
    result = run("scan", "--ports", "9100", "127.0.0.1")
    assert result.exit_code == 2
    assert_one_line_error(result, "no port left to probe")
    assert "9100-9107 are never probed" in result.stderr


@pytest.mark.parametrize("spec", ["abc", "80-", "70000", "0", "90-80"])
def test_bad_port_specs_are_usage_errors(spec: str) -> None:
    result = run("scan", "--dry-run", "--ports", spec, "127.0.0.1")
    assert result.exit_code == 2
    assert_one_line_error(result, "--ports")


def test_output_to_unwritable_path_is_a_usage_error(tmp_path: Path,
                                                    listener: Listener) -> None:
    target = tmp_path / "no-such-folder" / "out.json"
    result = run("scan", "-p", str(listener.port), "-o", str(target), "127.0.0.1")
    assert result.exit_code == 2
    assert_one_line_error(result, str(target))
    assert listener.accepted == 0  # refused before sending anything
    assert not target.exists()


def test_fingerprints_check_passes() -> None:
    result = run("fingerprints", "check")
    assert result.exit_code == 0, result.output + result.stderr
    assert "0 problem(s)" in result.stderr


def test_fingerprints_match_names_a_hikvision_rule() -> None:
    result = run("fingerprints", "match", "http.header.server", "DNVRS-Webs")
    assert result.exit_code == 0
    first = result.output.splitlines()[0]
    assert first.startswith("hikvision.")
    assert "maker=Hikvision" in first


def test_fingerprints_match_without_a_hit() -> None:
    result = run("fingerprints", "match", "http.header.server", "zz-no-such-server/0")
    assert result.exit_code == 0
    assert "no rule fires" in result.output


def test_policies_lists_both() -> None:
    result = run("policies")
    assert result.exit_code == 0
    names = [ln.split(":", 1)[0] for ln in result.output.splitlines() if not ln[:1].isspace()]
    assert "canada-2025" in names and "ndaa-889" in names


def test_unknown_policy_is_a_usage_error(listener: Listener) -> None:
    result = run("scan", "-p", str(listener.port), "--policy", "no-such-policy", "127.0.0.1")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert listener.accepted == 0


def test_schema_prints_json() -> None:
    result = run("schema")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert isinstance(doc, dict) and ("$defs" in doc or "properties" in doc)


def test_scan_of_a_loopback_listener_writes_json(listener: Listener, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run("scan", "-q", "-p", str(listener.port), "--timeout", "2",
                 "--connect-timeout", "1", "-f", "json", "-o", str(out), "127.0.0.1")
    assert result.exit_code in (ExitCode.OK, ExitCode.FLAGGED), result.output + result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["scan"]["targets"] == ["127.0.0.1"]
    assert doc["scan"]["partial"] is False
    assert listener.accepted >= 1
    ips = [a["ip"] for a in doc["assets"]]
    assert ips == ["127.0.0.1"]
    services = doc["assets"][0]["services"]
    assert any(s["port"] == listener.port for s in services) or any(
        e["key"] == "tcp.open" and e["value"] == str(listener.port)
        for e in doc["assets"][0]["evidence"])


def test_scan_json_to_stdout(listener: Listener) -> None:
    result = run("scan", "-q", "-p", str(listener.port), "--timeout", "2", "-f", "json",
                 "127.0.0.1")
    assert result.exit_code in (0, 3), result.stderr
    doc = json.loads(result.output)
    assert doc["scan"]["addresses"] == 1


def test_importing_the_cli_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, camscan.cli\n"
        "heavy = [m for m in ('scapy', 'zeep', 'httpx', 'zeroconf', 'onvif')\n"
        "         if any(k == m or k.startswith(m + '.') for k in sys.modules)]\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


# ------------------------------------------------------------------ issue 12: CLI conventions

def test_repeated_policy_is_a_usage_error_not_last_wins(listener: Listener) -> None:
    result = run("scan", "-p", str(listener.port), "--policy", "ndaa-889", "--policy",
                 "canada-2025", "127.0.0.1")
    assert result.exit_code == ExitCode.USAGE
    assert_one_line_error(result, "--policy", "once")
    assert listener.accepted == 0


def test_unknown_skip_probe_is_a_usage_error_listing_the_probes(listener: Listener) -> None:
    result = run("scan", "-p", str(listener.port), "--skip-probe", "htttp", "127.0.0.1")
    assert result.exit_code == ExitCode.USAGE
    assert_one_line_error(result, "htttp", "http", "rtsp", "tcp")
    assert listener.accepted == 0


def test_dry_run_shows_ports_rate_policy_and_where_it_records() -> None:
    result = run("scan", "--dry-run", "-p", "80,554", "--rate", "250", "--policy",
                 "ndaa-889", "127.0.0.1")
    assert result.exit_code == 0, result.stderr
    assert "ports: 80,554" in result.output
    assert "rate: 250/s" in result.output
    assert "policy: ndaa-889" in result.output
    assert "records: nothing recorded" in result.output


def test_dry_run_json_and_where_an_inventory_would_record(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    result = run("scan", "--dry-run", "-f", "json", "-p", "80", "--db", str(db),
                 "--site", "hq", "127.0.0.1-2")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.output)
    assert doc["dry_run"] is True and doc["addresses"] == 2 and doc["ports"] == [80]
    assert doc["policy"] == "canada-2025" and doc["records"] == f"inventory {db} (site hq)"
    assert not db.exists()


def test_dry_run_exits_as_the_real_run_when_everything_is_excluded() -> None:
    dry = run("scan", "--dry-run", "127.0.0.5", "-x", "127.0.0.0/29")
    real = run("scan", "127.0.0.5", "-x", "127.0.0.0/29")
    assert dry.exit_code == real.exit_code == ExitCode.USAGE
    assert_one_line_error(dry, "excluded")


def test_cidr_edges_warning_and_include_edges() -> None:
    narrow = run("scan", "--dry-run", "-f", "json", "127.0.0.16/28")
    assert narrow.exit_code == 0
    doc = json.loads(narrow.stdout)
    assert doc["addresses"] == 14
    assert "127.0.0.16 and 127.0.0.31" in narrow.stderr and "--include-edges" in narrow.stderr
    assert any("127.0.0.31" in w for w in doc["warnings"])
    edges = run("scan", "--dry-run", "-f", "json", "--include-edges", "127.0.0.16/28")
    assert json.loads(edges.stdout)["addresses"] == 16 and "warning" not in edges.stderr
    wide = run("scan", "--dry-run", "127.0.0.0/24")
    assert "warning" not in wide.stderr


def test_cidr_edges_warning_reaches_the_json_scan_section() -> None:
    # a real sweep (one closed loopback port, no discovery): the warning is in scan.warnings
    result = run("scan", "-q", "-f", "json", "-p", "1", "--skip-probe", "arp",
                 "--connect-timeout", "0.2", "--timeout", "1", "127.0.0.16/30")
    assert result.exit_code == ExitCode.OK, result.stderr
    doc = json.loads(result.stdout)
    assert doc["scan"]["addresses"] == 2
    assert any("127.0.0.16 and 127.0.0.19" in w for w in doc["scan"]["warnings"])


def test_targets_from_stdin() -> None:
    result = CliRunner().invoke(main, ["scan", "--dry-run", "-f", "json", "@-"],
                                input="127.0.0.1\n# a comment\n127.0.0.3, 127.0.0.4\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.output)["addresses"] == 3


def test_bad_target_in_a_file_names_the_file_and_line(tmp_path: Path) -> None:
    listing = tmp_path / "plant-a.txt"
    listing.write_text("127.0.0.1\n# fine\n127.0.0.300\n", encoding="utf-8")
    result = run("scan", "--dry-run", f"@{listing}")
    assert result.exit_code == ExitCode.USAGE
    assert_one_line_error(result, f"{listing}:3", "127.0.0.300")


def test_output_dash_is_stdout(listener: Listener, tmp_path: Path) -> None:
    result = run("scan", "-q", "-p", str(listener.port), "--timeout", "2", "-f", "json",
                 "-o", "-", "127.0.0.1")
    assert result.exit_code in (0, 3), result.stderr
    assert json.loads(result.output)["scan"]["addresses"] == 1
    assert not Path("-").exists()


def test_summary_line_on_stderr_when_output_goes_to_files(listener: Listener,
                                                          tmp_path: Path) -> None:
    out, worklist = tmp_path / "s.json", tmp_path / "w.csv"
    result = run("scan", "-p", str(listener.port), "--timeout", "2", "-f", "json",
                 "-o", str(out), "--csv", str(worklist), "127.0.0.1")
    assert result.exit_code in (0, 3), result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "written to" in ln]
    assert len(lines) == 1
    assert "1 device(s)" in lines[0] and "flagged" in lines[0] and " s;" in lines[0]
    assert str(out) in lines[0] and str(worklist) in lines[0]
    quiet = run("scan", "-q", "-p", str(listener.port), "--timeout", "2", "-f", "json",
                "-o", str(out), "127.0.0.1")
    assert quiet.stderr == ""


def test_schema_jsonl_prints_the_record_schema() -> None:
    from camscan.schema import JSONL_SCHEMA_PATH

    result = run("schema", "--jsonl")
    assert result.exit_code == 0
    assert result.output == JSONL_SCHEMA_PATH.read_text(encoding="utf-8")

"""``camscan pcap`` and ``camscan listen`` (camscan/cli/passive.py, camscan/app/passive.py),
through click's CliRunner.
Nothing here listens on an interface: ``listen`` is only run where it must fail before
opening a socket, or on an interface that does not exist (tests/integration/test_passive_lab.py
listens, inside the namespace lab)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from camscan.app.passive import parse_duration
from camscan.cli import main
from camscan.passive import read_records
from tests.unit.passive._build import pcapng

CAPTURE = Path(__file__).resolve().parents[1] / "captures" / "pcap" / "nslab-sweep.pcap"


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_pcap_json_is_a_passive_report() -> None:
    code, out, _ = run("pcap", str(CAPTURE), "-f", "json", "-q")
    assert code == 3  # flagged devices, as scan
    doc = json.loads(out)
    assert doc["scan"]["mode"] == "passive" and doc["scan"]["addresses"] == 0
    assert doc["scan"]["options"]["captures"] == str(CAPTURE)
    assert any(a["verdict"] == "remove" and a["manufacturer"] == "Hikvision"
               for a in doc["assets"])


def test_pcap_table_jsonl_csv_and_files(tmp_path: Path) -> None:
    code, out, _ = run("pcap", str(CAPTURE), "-q")
    assert code == 3 and "heard listening (nothing sent)" in out
    code, out, _ = run("pcap", str(CAPTURE), "-f", "jsonl", "-q")
    assert code == 3
    check_jsonl(out)
    report, worklist = tmp_path / "r.json", tmp_path / "w.csv"
    code, out, _ = run("pcap", str(CAPTURE), "-f", "json", "-o", str(report), "--csv",
                       str(worklist), "-q")
    assert code == 3 and out == ""
    assert json.loads(report.read_text())["scan"]["mode"] == "passive"
    assert "198.18.0.16" in worklist.read_text()


def check_jsonl(out: str) -> list[dict[str, object]]:
    """``-f jsonl`` as scan writes it: a header (marked passive), the devices, a trailer with
    the counts; every line valid against the record schema."""
    import jsonschema

    from camscan.schema import JSONL_SCHEMA_PATH

    records = [json.loads(line) for line in out.splitlines()]
    schema = json.loads(JSONL_SCHEMA_PATH.read_text(encoding="utf-8"))
    for record in records:
        jsonschema.validate(record, schema)
    assert records[0]["record"] == "header" and records[0]["scan"]["mode"] == "passive"
    assets, trailer = records[1:-1], records[-1]
    assert assets and {a["record"] for a in assets} == {"asset"}
    assert trailer["record"] == "trailer" and trailer["devices"] == len(assets)
    assert trailer["remove"] == sum(1 for a in assets if a["verdict"] == "remove") > 0
    return records


def test_pcap_jsonl_to_a_file_and_stdout_dashes(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # -o - must not make a file named "-" here
    out_file, worklist = tmp_path / "r.jsonl", tmp_path / "w.csv"
    code, out, _ = run("pcap", str(CAPTURE), "-f", "jsonl", "-o", str(out_file), "-q")
    assert code == 3 and out == ""
    check_jsonl(out_file.read_text())
    mask = os.umask(0o022)
    os.umask(mask)
    assert out_file.stat().st_mode & 0o777 == 0o666 & ~mask  # as an ordinary write, as scan
    code, out, _ = run("pcap", str(CAPTURE), "-f", "jsonl", "-o", "-", "-q")
    assert code == 3 and not (tmp_path / "-").exists()
    check_jsonl(out)
    code, out, _ = run("pcap", str(CAPTURE), "-f", "json", "-o", str(worklist.with_suffix(
        ".json")), "--csv", "-", "-q")
    assert code == 3 and out.startswith("verdict,ip,") and "198.18.0.16" in out
    code, _, err = run("pcap", str(CAPTURE), "--csv", "-", "-q")
    assert code == 2 and "--csv -" in err


def test_pcap_stops_quietly_when_stdout_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import camscan.render.jsonout as jsonout

    def gone(*args: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(jsonout, "write_asset_line", gone)  # `camscan pcap ... | head -1`
    code, _, err = run("pcap", str(CAPTURE), "-f", "jsonl", "-q")
    assert code == 141 and err == ""


def test_pcapng_gives_the_same_assets(tmp_path: Path) -> None:
    with open(CAPTURE, "rb") as fh:
        frames = [r.data for r in read_records(fh)]
    ng = tmp_path / "lab.pcapng"
    ng.write_bytes(pcapng(frames))
    a = json.loads(run("pcap", str(CAPTURE), "-f", "json", "-q")[1])
    b = json.loads(run("pcap", str(ng), "-f", "json", "-q")[1])
    assert [x | {"evidence": None} for x in a["assets"]] == \
        [x | {"evidence": None} for x in b["assets"]]


def test_truncated_capture_is_read_to_the_cut(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(CAPTURE.read_bytes()[:-100])
    code, out, err = run("pcap", str(cut), "-f", "json")
    assert code == 3 and "ends inside a record" in err
    doc = json.loads(out)
    assert doc["scan"]["partial"] is False
    assert doc["scan"]["warnings"] == [f"{cut}: ends inside a record (capture cut short); "
                                       "read up to the cut"]
    assert json.loads(run("pcap", str(CAPTURE), "-f", "json", "-q")[1])["scan"]["warnings"] == []


def test_corrupt_record_length_marks_the_report_partial(tmp_path: Path) -> None:
    data = bytearray(CAPTURE.read_bytes())
    data[24 + 8:24 + 12] = (1 << 30).to_bytes(4, "little")  # the first record's length
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes(data))
    code, out, err = run("pcap", str(bad), "-f", "json")
    assert code == 0 and "stopped reading" in err
    doc = json.loads(out)
    assert doc["scan"]["partial"] is True and "announces 1073741824 bytes" in \
        doc["scan"]["partial_reason"] and doc["assets"] == []


@pytest.mark.parametrize("content, message", [
    (b"hello world, not a capture", "not a pcap or pcapng file (starts with 68656c6c)"),
    (b"", "not a capture file: shorter than a pcap header"),
])
def test_not_a_capture_is_a_usage_error(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "x.pcap"
    f.write_bytes(content)
    code, out, err = run("pcap", str(f))
    assert code == 2 and out == ""
    assert err == f"camscan: error: {f}: {message}\n"


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    code, _, err = run("pcap", str(tmp_path / "nope.pcap"))
    assert code == 2 and err == f"camscan: error: {tmp_path / 'nope.pcap'}: no such file\n"
    code, _, err = run("pcap", str(CAPTURE), "-o", str(tmp_path / "no" / "dir" / "r.json"))
    assert code == 2 and "cannot write there" in err
    code, _, err = run("pcap", str(CAPTURE), "--policy", "no-such-policy")
    assert code == 2 and err.startswith("camscan: error: ")
    code, _, _ = run("pcap")
    assert code == 2


def test_pcap_records_into_the_inventory(tmp_path: Path) -> None:
    db = tmp_path / "inv.db"
    code, _, err = run("pcap", str(CAPTURE), "-f", "json", "--db", str(db), "--site", "ward-3")
    assert code == 3 and "recorded sweep 1" in err
    with sqlite3.connect(db) as c:
        site = c.execute("SELECT site FROM sweeps").fetchall()
    assert [s for (s,) in site] == ["ward-3"]
    code, out, _ = run("sweeps", "--db", str(db))
    assert code == 0 and "ward-3" in out


def test_parse_duration() -> None:
    assert parse_duration("90") == 90 and parse_duration("30s") == 30
    assert parse_duration("10m") == 600 and parse_duration("2h") == 7200
    assert parse_duration("1.5m") == 90 and parse_duration("1d") == 86400
    for bad in ("", "0", "10x", "-5", "8d", "1e9", "m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_listen_bad_duration_opens_nothing() -> None:
    code, _, err = run("listen", "--interface", "eth0", "--duration", "soon")
    assert code == 2 and err == ("camscan: error: --duration: 'soon' is not a duration "
                                 "(e.g. 30s, 10m, 2h)\n")
    code, _, err = run("listen")
    assert code == 2 and "--interface" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="opening a raw socket needs root")
def test_listen_on_an_interface_that_does_not_exist() -> None:
    code, _, err = run("listen", "--interface", "nosuchif0", "--duration", "1s", "-q")
    assert code == 2 and err.startswith("camscan: error: cannot listen on nosuchif0: ")
    assert err.count("\n") == 1


def test_help_names_both_commands() -> None:
    _, out, _ = run("--help")
    assert "pcap" in out and "listen" in out
    _, out, _ = run("listen", "--help")
    assert "receive-only" in out and "AF_PACKET" in out


HOSTILE = {  # committed hostile captures -> (exit code, what stderr says)
    "hostile-truncated.pcap": ((0, 3), "ends inside a record"),
    "hostile-snaplen-64.pcap": ((0, 3), ""),
    "hostile-garbage.pcap": ((2,), "not a pcap or pcapng file (starts with"),
    "hostile-giant-length.pcap": ((0, 3), "record 2 announces 4294967280 bytes"),
    "hostile-lying-block.pcapng": ((0, 3), "bytes at its start and"),  # both lengths named
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_captures_never_crash(name: str) -> None:
    from tests.lab.passive import hostile_captures

    path = CAPTURE.with_name(name)
    assert path.read_bytes() == hostile_captures()[name]  # the committed file is what we say
    codes, message = HOSTILE[name]
    code, out, err = run("pcap", str(path), "-f", "json")
    assert code in codes and message in err and "Traceback" not in err
    if code != 2:
        doc = json.loads(out)
        assert doc["scan"]["partial"] == ("announces" in message or "at its start" in message)
    else:
        assert out == "" and err.count("\n") == 1


def test_pcap_reads_standard_input() -> None:
    res = CliRunner().invoke(main, ["pcap", "-", "-f", "json", "-q"],
                             input=CAPTURE.read_bytes())
    assert res.exit_code == 3
    assert len(json.loads(res.stdout)["assets"]) == 21
    code, _, err = run("pcap", "-", "-")
    assert code == 2 and err == "camscan: error: standard input (-) can be read only once\n"


def test_every_file_is_checked_before_any_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture")
    db = tmp_path / "inv.db"
    code, out, err = run("pcap", str(CAPTURE), str(bad), "--db", str(db))
    assert code == 2 and out == "" and err.startswith(f"camscan: error: {bad}: not a pcap")
    assert not db.exists()  # nothing recorded

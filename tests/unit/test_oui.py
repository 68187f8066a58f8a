"""Offline OUI lookup: every IEEE block size, the vendors that matter here, and the refresh
script (run on a local file: no download in tests)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from camscan import oui

# The MA-L blocks nmap/nmap nmap-mac-prefixes names "Hangzhou Hikvision Digital Technology" and
# "Zhejiang Dahua Technology" (81 and 32 blocks; checked against that file).
HIKVISION_OUIS = (
    "00BC99 040312 04EECD 083BC1 085411 08A189 08CC81 0C75D2 1012FB 1868CB 188025 240F9B "
    "2428FD 2432AE 244845 2857BE 2CA59C 340962 3C1BF8 40ACBF 4419B6 4447CC 44A642 48785B "
    "4C1F86 4C62DF 4CBD8F 4CF5DC 50E538 548C81 54C415 5803FB 5850ED 5C345B 64DB8B 686DBC "
    "743FC2 80489F 807C62 80BEAF 80F5AE 849459 849A40 88DE39 8C22D2 8CE748 94E1AC 988B0A "
    "989DE5 98DF82 98F112 A0FF0C A41437 A42902 A44BD9 A4A459 A4D5C2 ACB92F ACCB51 B4A382 "
    "BC5E33 BC9B5E BCAD28 BCBAC2 C0517E C056E3 C06DED C42F90 C8A702 D4E853 DC07F8 DCD26A "
    "E0BAAD E0CA3C E0DF13 E4D58B E8A0ED ECA971 ECC89C F84DFC FC9FFD"
).split()
DAHUA_OUIS = (
    "08EDED 14A78B 24526A 30DDAA 38AF29 3CE36B 3CEF8C 407AA4 4C11BF 4C99E8 5CF51A 64FD29 "
    "6C1C71 74C929 8CE9B4 9002A9 98F9CC 9C1463 A0BD1D A8CA87 B44C3B BC325F C0395A C4AAC4 "
    "D4430E E02EFE E0508B E4246C F4B1C2 F8CE07 FC5F49 FCB69D"
).split()


def _mac(prefix: str, tail: str = "123456") -> str:
    digits = prefix + tail
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def test_every_hikvision_and_dahua_block_names_its_maker() -> None:
    def names(prefixes: list[str]) -> list[str]:
        return [(oui.vendor_of(_mac(p)) or "").lower() for p in prefixes]

    missing = [p for p, n in zip(HIKVISION_OUIS, names(HIKVISION_OUIS), strict=True)
               if "hikvision" not in n]
    assert missing == []
    missing = [p for p, n in zip(DAHUA_OUIS, names(DAHUA_OUIS), strict=True) if "dahua" not in n]
    assert missing == []
    assert oui.vendor_of("c0-56-e3-fe-42-92") == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert oui.vendor_of("4C11BFC20B9D") == "Zhejiang Dahua Technology Co., Ltd."


def test_ezviz_and_uniview_blocks() -> None:
    assert "ezviz" in (oui.vendor_of(_mac("0CA64C")) or "").lower()
    assert "uniview" in (oui.vendor_of(_mac("48EA63")) or "").lower()


def test_ma_m_and_ma_s_blocks_win_over_their_parent() -> None:
    # 00:55:DA is an IEEE Registration Authority MA-L split into MA-M (/28) blocks
    parent = oui.parse_manuf(
        "00:55:DA\tIEEERegi\tIEEE Registration Authority\n"
        "00:55:DA:00/28\tShinkoTechno\tShinko Technos co.,ltd.\n"
        "00:1B:C5:00:00/36\tConverging\tConverging Systems Inc.\n")
    assert parent[24][0x0055DA] == "IEEE Registration Authority"
    assert parent[28][0x0055DA0] == "Shinko Technos co.,ltd."
    assert parent[36][0x001BC5000] == "Converging Systems Inc."
    assert oui.vendor_of("00:55:DA:05:00:00") == "Shinko Technos co.,ltd."
    assert oui.vendor_of("00:1B:C5:00:00:05") == "Converging Systems Inc."
    index = oui._get_index()
    assert len(index[24]) > 30_000 and len(index[28]) > 3_000 and len(index[36]) > 5_000


def test_no_vendor_for_non_assignments() -> None:
    for mac in ("02:00:00:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "zz", "",
                "c0:56:e3:fe:42", "c0:56:e3:fe:42:92:00", "c0:56:e3:fe:42:9g"):
        assert oui.vendor_of(mac) is None, mac


def test_parse_manuf_skips_junk_and_keeps_short_names() -> None:
    index = oui.parse_manuf("# comment\n\nnot a line\n12:34:56\tShortOnly\n"
                            "AB:CD:EF/99\tBad\tBad mask\n")
    assert index == {24: {0x123456: "ShortOnly"}}


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(__file__).resolve().parents[2] / "scripts" / "update_oui.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          check=False, timeout=120)


def test_shipped_table_is_the_database_in_use() -> None:
    assert oui.DATA_FILE.is_file()
    assert oui.database_source() == str(oui.DATA_FILE)


def test_update_script_merges_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manuf = tmp_path / "manuf"
    manuf.write_text("C0:56:E3\tHikvision\tHikvision (Wireshark copy)\n"
                     "0C:A6:4C\tEzviz\tEzviz (Wireshark copy)\n", encoding="utf-8")
    oui_data = tmp_path / "index.json"
    oui_data.write_text(json.dumps({"0CA64C": "Hangzhou Ezviz (IEEE)\nAddress line",
                                    "0055DA7": "Some MA-M holder\nAddress", "bad": "x"}))
    out = tmp_path / "oui.tsv.gz"
    proc = _run_script("--offline", "--manuf", str(manuf), "--oui-data", str(oui_data),
                       "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "MA-L" in proc.stdout
    table = gzip.decompress(out.read_bytes()).decode()
    assert "C056E3\tHikvision (Wireshark copy)\n" in table
    assert "0CA64C\tHangzhou Ezviz (IEEE)\n" in table  # the later source wins
    assert "0055DA7\tSome MA-M holder\n" in table
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    monkeypatch.setattr(oui, "DATA_FILE", out)
    monkeypatch.setattr(oui, "_index", None)
    assert oui.vendor_of("c0:56:e3:fe:42:92") == "Hikvision (Wireshark copy)"
    assert oui.vendor_of("00:55:da:70:00:01") == "Some MA-M holder"
    assert oui.database_source() == str(out)
    # the same inputs give the same bytes (deterministic, reviewable diffs)
    again = tmp_path / "again.tsv.gz"
    _run_script("--offline", "--manuf", str(manuf), "--oui-data", str(oui_data),
                "--output", str(again))
    assert again.read_bytes() == out.read_bytes()
    monkeypatch.setattr(oui, "_index", None)


def test_update_script_refuses_an_incomplete_table(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "oui.tsv.gz"
    # a stub scapy (empty manuf) on PYTHONPATH removes the base layer; a tiny manuf is all
    # that is left, and the script must refuse to replace the table with it
    stub = tmp_path / "stub" / "scapy" / "libs"
    stub.mkdir(parents=True)
    (stub.parent / "__init__.py").write_text("")
    (stub / "__init__.py").write_text("")
    (stub / "manuf.py").write_text("DATA = ''\n")
    manuf = tmp_path / "manuf"
    manuf.write_text("00:00:01\tXerox\tXerox Corporation\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "stub"))
    proc = _run_script("--offline", "--manuf", str(manuf), "--output", str(out))
    assert proc.returncode != 0 and "incomplete" in proc.stderr
    assert not out.exists()

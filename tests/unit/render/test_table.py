from __future__ import annotations

import io

from camscan.models import Asset, Evidence, ScanMeta, ScanReport
from camscan.render.table import write_table


def test_table_shows_remove_first_with_evidence() -> None:
    report = ScanReport(
        scan=ScanMeta(version="0", targets=["x"], excludes=[], policy="canada-2025",
                      started="t", addresses=256, partial=True, partial_reason="interrupted"),
        assets=[
            Asset(ip="192.0.2.2", verdict="keep", manufacturer="Axis"),
            Asset(ip="192.0.2.3", verdict="remove", manufacturer="Hikvision", confidence=0.9,
                  evidence=[Evidence(probe="sdk", key="sdk.banner", port=8000,
                                     value="000000100000001e0000001e00000000",
                                     rule="hikvision.sdk.banner")]),
        ],
    )
    buf = io.StringIO()
    write_table(report, buf)
    text = buf.getvalue()
    assert text.index("192.0.2.3") < text.index("192.0.2.2")
    # "why" in words from the rule, the port it answered on; never the raw hex
    assert "Hikvision SDK port 8000 answered" in text
    assert "0000001" not in text
    assert "not shown" in text, "no label evidence: the brand column does not repeat the maker"
    assert "PARTIAL" in text
    assert "remove 1, review 0, keep 1" in text


def _wide_report() -> ScanReport:
    return ScanReport(
        scan=ScanMeta(version="0", targets=["x"], excludes=[], policy="canada-2025",
                      started="t", addresses=256),
        assets=[
            Asset(ip=f"192.0.2.{i}", mac="c0:56:e3:00:00:01", verdict="remove",
                  manufacturer="Hikvision", brand="LTS", model="LTN8708K-P8-1234567",
                  firmware="V4.62.210 build 220225", confidence=0.93,
                  evidence=[Evidence(probe="http", key="http.header.server",
                                     value="DNVRS-Webs " + "x" * 80,
                                     rule="hikvision.http.server.webs")])
            for i in (100, 101, 102)
        ],
    )


def test_table_fits_80_columns_and_stays_readable() -> None:
    buf = io.StringIO()
    write_table(_wide_report(), buf, width=80)
    lines = buf.getvalue().splitlines()
    assert max(len(ln) for ln in lines) <= 80
    for ip in ("192.0.2.100", "192.0.2.101", "192.0.2.102"):
        row = next(ln for ln in lines if ip in ln)  # every address whole, on its row
        assert row.split()[0] == "remove" and "0.93" in row and "Hikvision" in row


def test_wide_table_keeps_every_column() -> None:
    buf = io.StringIO()
    write_table(_wide_report(), buf, width=160)
    text = buf.getvalue()
    assert "c0:56:e3:00:00:01" in text and "firmware" in text
    assert max(len(ln) for ln in text.splitlines()) <= 160


def test_colour_only_when_asked() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    write_table(_wide_report(), plain, color=False)
    write_table(_wide_report(), coloured, color=True)
    assert "\x1b[" not in plain.getvalue() and "\x1b[" in coloured.getvalue()

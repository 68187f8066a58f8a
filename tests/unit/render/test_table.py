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

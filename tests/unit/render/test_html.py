"""The HTML worklist: self-contained, escaped, and it really renders (headless Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from camscan.inventory import Inventory
from camscan.render.html import (
    CHART_COLOR,
    TABLE_HEAD_COLOR,
    SweepPoint,
    burndown_svg,
    render_html,
)
from tests.unit.inventory_helpers import cam, report

HOSTILE_BRAND = "<script>alert(1)</script>"
HOSTILE_MODEL = '"><img src=http://evil.invalid/x onerror=alert(2)>'


def build(tmp_path: Path) -> Inventory:
    inv = Inventory.open(tmp_path / "inv.db")
    hq = [cam(f"10.77.0.{i}", serial=f"S{i}") for i in range(10, 30)]
    inv.record_sweep(report(hq, started="2026-11-01T02:00:00+00:00"), "hq")
    odd = cam("10.77.0.99", brand=HOSTILE_BRAND, model=HOSTILE_MODEL)
    inv.record_sweep(report([*hq[:12], odd], started="2026-11-08T02:00:00+00:00"), "hq")
    inv.record_sweep(report([*hq[:6], odd], started="2026-11-15T02:00:00+00:00"), "hq")
    branch = [cam(f"10.78.0.{i}", serial=f"B{i}", brand="LTS") for i in range(10, 14)]
    inv.record_sweep(report(branch, started="2026-11-16T02:00:00+00:00"), "branch")
    return inv


def page(inv: Inventory, site: str | None = None) -> str:
    points = [SweepPoint(s, n) for s, n in inv.burndown(site)]
    return render_html(inv.worklist(site), points, generated="2026-11-16T03:00:00+00:00",
                       site=site, sweeps=len(inv.sweeps(site)))


def test_self_contained_and_escaped(tmp_path: Path) -> None:
    with build(tmp_path) as inv:
        html = page(inv)
    assert HOSTILE_BRAND not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=http://evil.invalid/x" in html
    # nothing that could fetch: no script, link, img, iframe, @import, url(
    for needle in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src=\"",
                   "href=\""):
        assert needle not in html.lower(), needle
    # the only absolute URLs are the SVG namespace and the escaped device text
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls == {"http://www.w3.org/2000/svg", "http://evil.invalid/x"}
    assert "default-src 'none'" in html
    # totals, groups, chart and the table are all there
    assert "devices on the worklist" in html and "By site" in html
    assert "By brand on the label" in html and "<svg" in html
    assert html.count("<tr>") >= 17 + 1


def test_chart_points_follow_the_burndown() -> None:
    svg = burndown_svg([SweepPoint("2026-11-01T02:00:00+00:00", 8),
                        SweepPoint("2026-11-08T02:00:00+00:00", 4),
                        SweepPoint("2026-11-15T02:00:00+00:00", 0)])
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)]
    assert len(ys) == 3 and ys[0] < ys[1] < ys[2], "fewer devices, lower point"
    assert "No complete sweep" in burndown_svg([])


# --- rendering in a real browser ------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """A small PNG decoder (8-bit RGB/RGBA, not interlaced): width, height, RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = ctype = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = prev[i]
            ul = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + left) & 255
            elif f == 2:
                line[i] = (line[i] + up) & 255
            elif f == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif f == 4:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                line[i] = (line[i] + pred) & 255
        prev = line
        if bpp == 4:
            rows.append(bytes(b for i in range(0, stride, 4) for b in line[i:i + 3]))
        else:
            rows.append(bytes(line))
    return width, height, rows


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def pixels_of(rows: list[bytes], color: str, tol: int = 6) -> list[tuple[int, int]]:
    r0, g0, b0 = _rgb(color)
    hits: list[tuple[int, int]] = []
    for y, row in enumerate(rows):
        for x in range(0, len(row), 3):
            if (abs(row[x] - r0) <= tol and abs(row[x + 1] - g0) <= tol
                    and abs(row[x + 2] - b0) <= tol):
                hits.append((x // 3, y))
    return hits


def screenshot(html_path: Path, tmp_path: Path, name: str) -> Path:
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed but CI is set: install the Debian package "
                        "'chromium' (scripts/sysdeps.sh)")
        pytest.skip("chromium is not installed (apt-get install chromium); the rendered "
                    "worklist cannot be checked here")
    png = tmp_path / f"{name}.png"
    profile = tmp_path / f"profile-{name}"
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--hide-scrollbars", "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
        "--window-size=1400,1600", f"--screenshot={png}", html_path.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file() and png.stat().st_size > 1000, proc.stderr[-2000:]
    return png


@pytest.mark.timeout(300)
def test_rendered_in_chromium_shows_chart_and_table(tmp_path: Path) -> None:
    with build(tmp_path) as inv:
        full = tmp_path / "worklist.html"
        full.write_text(page(inv), encoding="utf-8")
        empty_inv = Inventory.open(tmp_path / "empty.db")
        empty = tmp_path / "empty.html"
        empty.write_text(page(empty_inv), encoding="utf-8")
        empty_inv.close()
    width, height, rows = decode_png(screenshot(full, tmp_path, "full").read_bytes())
    assert (width, height) == (1400, 1600)
    chart = pixels_of(rows, CHART_COLOR)
    assert len(chart) > 400, f"the burn-down line is not drawn ({len(chart)} pixels)"
    # the table header: a band of rows mostly in the header colour (text anti-aliasing
    # elsewhere can hit the colour here and there, never across the page)
    per_row: dict[int, int] = {}
    for _, y in pixels_of(rows, TABLE_HEAD_COLOR):
        per_row[y] = per_row.get(y, 0) + 1
    band = sorted(y for y, n in per_row.items() if n > width // 2)
    assert len(band) >= 15, f"the table header is not rendered ({len(band)} rows)"
    head_top = band[0]
    chart_bottom = max(y for _, y in chart)
    assert chart_bottom < head_top, "chart above the table"
    chart_xs = [x for x, _ in chart]
    assert max(chart_xs) - min(chart_xs) > 300, "the line spans the sweeps"
    # table rows below the header: dark text on the zebra stripes
    stripe = pixels_of(rows[head_top:], "#f6f8f9", tol=1)
    assert len(stripe) > 10_000, "table rows are rendered"

    # the control: an inventory without sweeps has neither chart nor rows
    _, _, erows = decode_png(screenshot(empty, tmp_path, "empty").read_bytes())
    assert len(pixels_of(erows, CHART_COLOR)) < 50
    assert len(pixels_of(erows, "#f6f8f9", tol=1)) < 1000
    assert max(
        sum(1 for x in range(0, len(row), 3) if abs(row[x] - 0x2F) <= 6
            and abs(row[x + 1] - 0x3B) <= 6 and abs(row[x + 2] - 0x45) <= 6)
        for row in erows
    ) > width // 2, "the empty worklist still shows the table header"


def test_point_labels_show_time_when_sweeps_share_a_date() -> None:
    from camscan.render.html import point_labels, with_now

    pts = [SweepPoint("2026-11-14T02:00:00+00:00", 5),
           SweepPoint("2026-11-15T02:00:00+00:00", 4),
           SweepPoint("2026-11-15T14:30:00+00:00", 3)]
    assert point_labels(pts) == ["2026-11-14", "2026-11-15 02:00", "2026-11-15 14:30"]
    assert with_now(pts, 3, "2026-11-16T00:00:00+00:00") == pts, "no change, no extra point"
    closed = with_now(pts, 1, "2026-11-16T00:00:00+00:00")
    assert closed[-1].remaining == 1 and point_labels(closed)[-1] == "now"


def test_removed_so_far_counts_marked_removed_and_gone_flagged() -> None:
    from camscan.render.html import removed_so_far

    rows = [{"status": "removed", "verdict": "remove"}, {"status": "gone", "verdict": "review"},
            {"status": "gone", "verdict": "keep"}, {"status": "open", "verdict": "remove"},
            {"status": "exempt", "verdict": "remove"}]
    assert removed_so_far(rows) == 2

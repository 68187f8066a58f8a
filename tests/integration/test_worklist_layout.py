"""The HTML worklist laid out by a real browser (Debian's headless Chromium): a 1400 px
desktop, a 400 px phone, and print to PDF on Letter and A4.

One browser start per layout. The page itself has no script (its CSP forbids one), so for
the screen layouts the test renders a copy with a measuring script appended that writes what
it measured into the DOM, then reads it back with ``--dump-dom``. Skipped, with the reason,
when chromium (or pdftotext, for print) is not installed (scripts/sysdeps.sh installs both).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from camscan.inventory import Inventory
from camscan.models import Evidence
from camscan.render.html import SweepPoint, removed_so_far, render_html
from tests.unit.inventory_helpers import cam, report

NOTE = "pulled by J. Ortiz, ticket FAC-1182"
LONG_MODEL = "DS-2CD2387G2H-LISU/SL-" + "X" * 40  # an unbreakable long value
DAY = "2026-11-15"

MEASURE = """<script>
(function () {
  var d = document.documentElement, w = d.clientWidth, wide = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > w + 1 || r.left < -1)) {
      wide.push(el.tagName + '.' + el.className + ' ' + Math.round(r.left) + '..' +
                Math.round(r.right));
    }
  });
  var scrollers = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var s = getComputedStyle(el);
    if (/(auto|scroll)/.test(s.overflowX) && el.scrollWidth > el.clientWidth) {
      scrollers.push(el.tagName + '.' + el.className);
    }
  });
  var svg = Array.prototype.map.call(document.querySelectorAll('svg.burndown'),
    function (el) { return el.getBoundingClientRect(); }).filter(
    function (r) { return r.width > 0; })[0];
  var th = document.querySelector('table.work thead');
  var first = document.querySelector('table.work tbody tr').getBoundingClientRect();
  var out = {client: w, scroll: d.scrollWidth, wide: wide.slice(0, 10), scrollers: scrollers,
             chart: [Math.round(svg.left), Math.round(svg.right)],
             thead: getComputedStyle(th).display, row: Math.round(first.width),
             before: Array.prototype.map.call(
               document.querySelectorAll('table.work tbody tr:first-child td'),
               function (td) { return getComputedStyle(td, '::before').content; }),
             text: document.body.innerText};
  var pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def _tool(names: tuple[str, ...], why: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} is not installed but CI is set (scripts/sysdeps.sh)")
    pytest.skip(f"{names[0]} is not installed ({why}): the worklist layout cannot be checked")


def chromium() -> str:
    return _tool(("chromium", "chromium-browser", "google-chrome"),
                 "apt-get install chromium")


def _browser(args: list[str], tmp: Path, name: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp / ('profile-' + name)}", *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Three sweeps on one day (the chart needs the time of day), one on another, a device
    marked removed with a note, one gone, a label-less device and an OEM one."""
    tmp = tmp_path_factory.mktemp("worklist")
    inv = Inventory.open(tmp / "inv.db")
    hq = [cam(f"10.77.0.{i}", serial=f"S{i}") for i in range(10, 22)]
    for a in hq:  # the rule the shipped database really has
        a.evidence = [Evidence(probe="http", key="http.header.server", value="App-webs/",
                               rule="hikvision.http.server.webs", port=80)]
    hq[0].brand, hq[0].oem = "LTS", True
    hq[4].model = LONG_MODEL
    hq[2].evidence.append(Evidence(probe="sdk", key="sdk.banner", port=8000,
                                   value="000000100000001e0000001e00000000",
                                   rule="hikvision.sdk.banner"))
    hq[3].evidence.append(Evidence(
        probe="http", key="http.body", port=80, rule="hikvision.http.login-asp-redirect",
        value='<html><script>window.location.href = "/doc/page/login.asp?_"</script>'))
    inv.record_sweep(report(hq, started="2026-11-14T02:00:00+00:00"), "hq")
    inv.record_sweep(report(hq[:10], started=f"{DAY}T02:00:00+00:00"), "hq")
    inv.record_sweep(report(hq[:9], started=f"{DAY}T09:30:00+00:00"), "hq")
    inv.record_sweep(report(hq[:9], started=f"{DAY}T16:45:00+00:00"), "hq")
    inv.mark(inv.resolve_asset("S18"), "removed", note="gone for good",
             at=f"{DAY}T17:00:00+00:00")
    inv.mark(inv.resolve_asset("S12"), "open", note=NOTE, at=f"{DAY}T17:10:00+00:00")
    inv.mark(inv.resolve_asset("S11"), "removed", note="taken down",
             at=f"{DAY}T17:20:00+00:00")
    html = render_html(inv.worklist(), [SweepPoint(s, n) for s, n in inv.burndown()],
                       generated=f"{DAY}T18:00:00+00:00", sweeps=len(inv.sweeps()),
                       removed=removed_so_far(inv.assets()))
    inv.close()
    return html


def measure(html: str, tmp: Path, width: int) -> dict[str, object]:
    probe = html.replace("default-src 'none'; style-src 'unsafe-inline'",
                         "default-src 'none'; style-src 'unsafe-inline'; "
                         "script-src 'unsafe-inline'").replace("</body>", MEASURE + "</body>")
    path = tmp / f"w{width}.html"
    path.write_text(probe, encoding="utf-8")
    proc = _browser([f"--window-size={width},1000", "--virtual-time-budget=3000",
                     "--dump-dom", path.as_uri()], tmp, str(width))
    m = re.search(r'<pre id="measured">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stderr[-2000:]
    data: dict[str, object] = json.loads(m.group(1).replace("&quot;", '"')
                                         .replace("&lt;", "<").replace("&gt;", ">")
                                         .replace("&amp;", "&"))
    return data


def test_headline_chart_and_notes_in_the_page(page: str) -> None:
    """(no browser) the chart ends at the headline figure; the notes and words are there."""
    tiles = dict((label, int(n)) for n, label in re.findall(
        r'<div class="tile[^"]*"><b>(\d+)</b><span>([^<]+)</span>', page))
    wide = page[page.index('<div class="wide">'):page.index('<div class="narrow">')]
    values = [int(v) for v in re.findall(r'class="pv">(\d+)</text>', wide)]
    assert tiles["devices on the worklist"] == values[-1] == 7
    assert values[:4] == [12, 12, 10, 9], "one point per sweep"
    assert tiles["removed so far (marked removed + gone)"] == 5  # 3 gone + 2 marked
    xl = re.findall(r'class="px">([^<]+)</text>', wide)
    assert "2026-11-14" in xl and f"{DAY} 16:45" in xl and xl[-1] == "now"
    assert NOTE in page and "Hikvision SDK port 8000 answered" in page


@pytest.mark.timeout(120)
def test_desktop_1400_no_horizontal_scroll(page: str, tmp_path: Path) -> None:
    m = measure(page, tmp_path, 1400)
    assert m["scroll"] == m["client"], f"scrolls sideways: {m['wide']}"
    assert m["wide"] == [] and m["scrollers"] == []
    assert m["thead"] != "none", "a table on the desktop"
    text = str(m["text"])
    for column in ("label", "maker", "model", "serial", "firmware", "first seen", "why"):
        assert column in text
    assert "not shown" in text and "LTS" in text and NOTE in text


@pytest.mark.timeout(120)
def test_phone_400_cards_and_chart_fit(page: str, tmp_path: Path) -> None:
    m = measure(page, tmp_path, 400)
    client = int(str(m["client"]))
    assert m["scroll"] == client, f"scrolls sideways at 400 px: {m['wide']}"
    assert m["wide"] == [] and m["scrollers"] == []
    assert m["thead"] == "none", "cards, not a table, on a phone"
    left, right = (int(v) for v in str(m["chart"]).strip("[]").split(","))
    assert 0 <= left and right <= client and right - left > 300, "the chart scales to the width"
    assert int(str(m["row"])) <= client
    # each card names its fields (the table header is hidden)
    before = [str(b).strip('"') for b in m["before"]]  # type: ignore[attr-defined]
    assert before[:3] == ["id: ", "site: ", "status: "] and "why: " in before
    assert NOTE in str(m["text"]) and "S10" in str(m["text"])


def _pdf_text(html: str, tmp: Path, paper: str) -> str:
    pdftotext = _tool(("pdftotext",), "apt-get install poppler-utils")
    page_rule = "@page{size:A4 landscape}" if paper == "a4" else ""
    path = tmp / f"print-{paper}.html"
    path.write_text(html.replace("</style>", page_rule + "</style>"), encoding="utf-8")
    pdf = tmp / f"{paper}.pdf"
    proc = _browser(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", path.as_uri()],
                    tmp, paper)
    assert pdf.is_file() and pdf.stat().st_size > 1000, proc.stderr[-2000:]
    out = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    info = subprocess.run([pdftotext.replace("pdftotext", "pdfinfo"), str(pdf)],
                          capture_output=True, text=True, timeout=60, check=False).stdout
    return out + "\n--pdfinfo--\n" + info


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("paper", "size"), [("letter", "792 x 612 pts (letter)"), ("a4", "(A4)")])
def test_print_has_every_column_and_the_evidence(page: str, tmp_path: Path, paper: str,
                                                 size: str) -> None:
    text = _pdf_text(page, tmp_path, paper)
    body, info = text.split("\n--pdfinfo--\n")
    if info:
        assert size in info, info  # landscape Letter / A4, in points
    flat = " ".join(body.split())  # a header may wrap onto two lines in its cell
    for column in ("label", "maker", "model", "serial", "firmware", "first seen", "last seen",
                   "conf.", "why"):
        assert column in flat, column
    # the evidence is printed open (on screen it is folded in <details>)
    assert "sdk.banner" in body and "000000100000001e" in body
    assert "evidence (" not in body, "the folded summary is not printed"
    assert NOTE.split(",")[0] in flat and "not shown" in flat
    assert "S17" in body and "S10" in body, "first and last rows"
    assert "X" * 20 in re.sub(r"\s+", "", body), "a long value is wrapped, not cut"
    # the table header repeats on a page that continues the table (if there is one)
    pages = body.split("\f")
    cont = [p for p in pages[1:] if "S1" in p]
    for p in cont:
        assert "firmware" in p

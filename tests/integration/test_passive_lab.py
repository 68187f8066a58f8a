"""Listen-only identification in the namespace lab (root; skips without, like every lab test).

* The listen-only proof: ``camscan listen`` runs inside the scanner namespace while tcpdump
  ``-Q out`` records everything that namespace's only interface sends, and the devices
  announce themselves (WS-Discovery Hello, SSDP NOTIFY, DHCP). Not one packet goes out; the
  announcers are in the report, marked passive; SIGINT (Ctrl-C) ends it early and it writes.
* A fresh recording of the lab (tcpdump on the bridge while a sweep runs) gives, through
  ``camscan pcap``, the same evidence and verdicts as that sweep for the signals in the clear.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camscan.passive import Analyser, read_records, read_spans
from tests.lab.netns import REPO, NamespaceLab, tcpdump
from tests.lab.passive import DHCP_FROM, HELLO_FROM, NOTIFY_FROM, announce, compare, record

pytestmark = [pytest.mark.lab]


def _listen(lab: NamespaceLab, out: Path, duration: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, lab.python, "-m", "camscan", "listen",
         "--interface", "eth0", "--duration", duration, "--format", "json", "-o", str(out)],
        cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("camscan: listening on eth0"), line + proc.stderr.read()
    return proc


@contextlib.contextmanager
def no_ipv6(lab: NamespaceLab, ns: str) -> Iterator[None]:
    """IPv6 off on ``ns``'s eth0 for the block: the kernel's own link housekeeping (router
    solicitations, MLD reports after a link comes up) would otherwise be in the capture of
    what the namespace sends, with or without camscan; with it off, the namespace is silent
    unless a process sends."""
    key = "net.ipv6.conf.eth0.disable_ipv6"
    lab.run_in(ns, ["sysctl", "-qw", f"{key}=1"], check=True)
    try:
        yield
    finally:
        lab.run_in(ns, ["sysctl", "-qw", f"{key}=0"])


def test_listen_sends_nothing_and_hears_the_announcements(namespace_lab: NamespaceLab,
                                                          tmp_path: Path) -> None:
    lab = namespace_lab
    sent, report = tmp_path / "sent.pcap", tmp_path / "report.json"
    with no_ipv6(lab, lab.scanner_ns), tcpdump(lab.scanner_ns, "eth0", sent,
                                               extra=("-Q", "out")):
        proc = _listen(lab, report, "4s")
        time.sleep(0.5)
        announce(lab)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err  # the DHCP announcer is a Hikvision camera: flagged
    with open(sent, "rb") as fh:
        # the kernel's own ARP replies (a lab device asking who has the scanner's address,
        # e.g. to deliver a late answer to an earlier test's sweep) are not the listener's:
        # a receive-only packet socket cannot make them; everything else counts
        out = [r for r in read_records(fh)
               if not (r.data[12:14] == b"\x08\x06" and r.data[20:22] == b"\x00\x02")]
    assert out == [], f"camscan listen sent {len(out)} frame(s)"
    doc = json.loads(report.read_text())
    assert doc["scan"]["mode"] == "passive" and doc["scan"]["options"]["interface"] == "eth0"
    ips = {a["ip"] for a in doc["assets"]}
    assert {lab.device(d).ip for d in (DHCP_FROM, HELLO_FROM, NOTIFY_FROM)} <= ips
    hik = next(a for a in doc["assets"] if a["ip"] == lab.device(DHCP_FROM).ip)
    assert hik["manufacturer"] == "Hikvision"  # from the MAC's OUI alone
    axis = next(a for a in doc["assets"] if a["ip"] == lab.device(HELLO_FROM).ip)
    assert axis["manufacturer"] == "Axis" and axis["model"] == "M3045-V"  # from the Hello


def test_ctrl_c_stops_listening_and_writes(namespace_lab: NamespaceLab, tmp_path: Path) -> None:
    lab = namespace_lab
    report = tmp_path / "report.json"
    proc = _listen(lab, report, "10m")
    announce(lab)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)  # ip netns exec passes it on to camscan
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 3), err
    assert "stopped by Ctrl-C" in err
    doc = json.loads(report.read_text())
    assert lab.device(NOTIFY_FROM).ip in {a["ip"] for a in doc["assets"]}


def test_a_fresh_lab_capture_matches_its_sweep(namespace_lab: NamespaceLab,
                                               tmp_path: Path) -> None:
    pcap = tmp_path / "lab.pcap"
    active = record(namespace_lab, pcap)
    proc = subprocess.run([namespace_lab.python, "-m", "camscan", "pcap", str(pcap), "-f",
                           "json", "-q"], cwd=str(REPO), capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 3, proc.stderr
    a = Analyser()
    with open(pcap, "rb") as fh:
        a.feed_all(read_spans(fh))
    problems, compared = compare(active, json.loads(proc.stdout), a.observations())
    assert problems == []
    assert compared >= 18

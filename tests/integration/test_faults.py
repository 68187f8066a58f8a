"""Faults: camscan keeps going, says clearly what happened, and loses nothing.

In a small namespace lab of its own (three devices; some cases change its links and routes):
a device that vanishes mid-sweep, a port that answers with resets, a host whose TCP answers
are ICMP host-unreachable, a host name that does not resolve (resolved only inside the
scanner namespace, whose resolv.conf points at its own loopback: no real DNS server is ever
asked), SIGKILL and SIGTERM mid-sweep with an inventory. On loopback (127.0.0.1 only): an
output on a full disk (/dev/full) and in a read-only folder (a read-only tmpfs in a private
mount namespace; root ignores permission bits, not a read-only mount).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import lab_unavailable
from tests.lab.capture import read_packets
from tests.lab.netns import REPO, LabDevice, LabError, NamespaceLab, unavailable_reason

PROFILES = ("hikvision-ds2cd2032-v5.3", "dahua-ipc-hdw1431t1", "axis-m3045v")
LOOPBACK_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def lab() -> Iterator[NamespaceLab]:
    reason = unavailable_reason()
    if reason:
        lab_unavailable(reason)
    from tests.lab.profiles import ProfileError

    try:
        built = NamespaceLab(profile_ids=PROFILES).start()
    except (LabError, ProfileError, OSError) as exc:
        lab_unavailable(f"the namespace lab could not be built: {exc}")
        raise  # not reached
    try:
        yield built
    finally:
        built.close()


def dev(lab: NamespaceLab, profile_id: str) -> LabDevice:
    return lab.device(profile_id)


def scan_popen(lab: NamespaceLab, args: list[str]) -> subprocess.Popen[str]:
    """``camscan scan`` in the scanner namespace, in the background."""
    env = {**LOOPBACK_ENV}
    return subprocess.Popen(
        ["ip", "netns", "exec", lab.scanner_ns, lab.python, "-m", "camscan", "scan", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO), env=env)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"not one line: {err!r}"
    assert lines[0].startswith("camscan: error: "), lines[0]
    return lines[0]


def assets_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["ip"]: a for a in doc["assets"]}


def identified(asset: dict[str, Any] | None, d: LabDevice) -> bool:
    return asset is not None and asset["manufacturer"] == d.expect.manufacturer


def forget_neighbours(lab: NamespaceLab) -> None:
    """Empty the scanner namespace's neighbour table (so the next entry marks new traffic)."""
    lab.run_in_scanner(["ip", "neigh", "flush", "dev", "eth0"], timeout=10, check=True)


def wait_for_sweep_start(lab: NamespaceLab, proc: subprocess.Popen[str], target: LabDevice,
                         timeout: float = 20) -> None:
    """Until the scanner namespace's kernel has a neighbour entry for ``target`` (after
    :func:`forget_neighbours`: the sweep is past its raw ARP sweep and sends unicast to it,
    or the device answered its multicast)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        neigh = lab.run_in_scanner(["ip", "neigh", "show", target.ip], timeout=10)
        if "lladdr" in neigh.stdout:
            return
        if proc.poll() is not None:
            raise AssertionError(f"camscan ended early: {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"the sweep never reached {target.ip}")


# --------------------------------------------------------------------------- network faults


@pytest.mark.lab
def test_device_vanishes_mid_sweep(lab: NamespaceLab, tmp_path: Path) -> None:
    """The Axis camera's switch port goes down while the sweep talks to it: the sweep
    finishes on time, the others are identified, the lost one has timeout outcomes."""
    gone = dev(lab, "axis-m3045v")
    others = [d for d in lab.devices if d is not gone]
    out = tmp_path / "vanish.json"
    forget_neighbours(lab)
    proc = scan_popen(lab, [*(d.ip for d in lab.devices), "--rate", "10", "--timeout", "3",
                            "--connect-timeout", "1", "-f", "json", "-o", str(out), "-q",
                            "--seed", "4"])
    t0 = time.monotonic()
    try:
        wait_for_sweep_start(lab, proc, gone)
        lab.run_in(lab.switch_ns, ["ip", "link", "set", gone.port, "down"], check=True)
        code, _, err = finish(proc, timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        lab.run_in(lab.switch_ns, ["ip", "link", "set", gone.port, "up"], check=True)
    seconds = time.monotonic() - t0
    assert code in (0, 3), f"exit {code}: {err[-2000:]}"
    doc = json.loads(out.read_text())
    assert doc["scan"]["partial"] is False
    assets = assets_of(doc)
    for d in others:
        assert identified(assets.get(d.ip), d), (d.profile_id, assets.get(d.ip))
    lost = assets.get(gone.ip)
    assert lost is not None, "the device answered ARP before it vanished; it must be listed"
    statuses = {e["status"] for e in lost["probe_errors"]}
    assert statuses & {"timeout", "unreachable"}, lost["probe_errors"]
    print(f"\nvanished mid-sweep: finished in {seconds:.1f}s; lost device errors: "
          f"{sorted(statuses)}")
    assert seconds < 60


RESET_LISTENER = """
import socket, struct, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
print("READY", flush=True)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # linger 0: an RST right after the handshake
"""


@contextlib.contextmanager
def reset_port(lab: NamespaceLab, d: LabDevice, port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", d.ns, lab.python, "-c", RESET_LISTENER, d.ip, str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode(errors="replace")
        assert line.startswith("READY"), line
        yield
    finally:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def tcp_unreachable(lab: NamespaceLab, d: LabDevice) -> Iterator[None]:
    """TCP from the scanner to ``d`` gets ICMP host-unreachable from ``d`` (a policy rule
    ahead of the local table; ARP and UDP discovery still work). The kernel sends that ICMP
    only when the interface forwards, and at most ~5 at once then one a second per peer
    (net.ipv4.route.error_burst/error_cost, global: left alone), so later SYNs may just
    time out."""
    rules = [
        "route add unreachable default table 100",
        f"rule add pref 10 from {lab.scanner_ip} ipproto tcp lookup 100",
        "rule add pref 20 lookup local",
        "rule del pref 0 lookup local",
    ]
    undo = [
        "rule add pref 0 lookup local",
        "rule del pref 20 lookup local",
        f"rule del pref 10 from {lab.scanner_ip} ipproto tcp lookup 100",
        "route del unreachable default table 100",
    ]
    lab.run_in(d.ns, ["ip", "-batch", "-"], input="\n".join(rules) + "\n", check=True)
    lab.run_in(d.ns, ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0",
                      "net.ipv4.conf.eth0.forwarding=1"], check=True)
    try:
        yield
    finally:
        lab.run_in(d.ns, ["ip", "-force", "-batch", "-"], input="\n".join(undo) + "\n")
        lab.run_in(d.ns, ["sysctl", "-qw", "net.ipv4.icmp_ratelimit=1000",
                          "net.ipv4.conf.eth0.forwarding=0"])


@pytest.mark.lab
def test_resets_and_icmp_unreachable(lab: NamespaceLab, tmp_path: Path) -> None:
    """A port that resets every connection and a host whose TCP is unreachable: each shows
    up in its probe errors with that status; the third device is identified as usual."""
    resetting = dev(lab, "hikvision-ds2cd2032-v5.3")
    blocked = dev(lab, "dahua-ipc-hdw1431t1")
    fine = dev(lab, "axis-m3045v")
    out = tmp_path / "faults.json"
    with reset_port(lab, resetting, 8081), tcp_unreachable(lab, blocked):
        probe = lab.run_in_scanner([lab.python, "-c", (
            "import socket,sys\ns=socket.socket()\ns.settimeout(3)\n"
            f"try:\n s.connect(('{blocked.ip}', 80))\nexcept OSError as e:\n print(e.errno)")],
            timeout=20)
        assert probe.stdout.strip() == "113", f"no ICMP host-unreachable: {probe!r}"
        proc = lab.scan(*(d.ip for d in lab.devices), "--ports", "80,554,8081",
                        "--timeout", "3", "-f", "json", "-o", str(out), "-q", "--seed", "5",
                        timeout=90)
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["scan"]["partial"] is False
    assets = assets_of(doc)
    assert identified(assets.get(fine.ip), fine)
    assert identified(assets.get(resetting.ip), resetting)
    reset_errors = [e for e in assets[resetting.ip]["probe_errors"] if e["port"] == 8081]
    assert reset_errors, assets[resetting.ip]["probe_errors"]
    assert all(e["status"] == "error" and "reset" in (e["reason"] or "")
               for e in reset_errors), reset_errors
    # the blocked device is still heard on the segment (DHIP), its TCP says unreachable
    b = assets.get(blocked.ip)
    assert b is not None, "the ICMP-unreachable device was dropped"
    unreach = [e for e in b["probe_errors"] if e["status"] == "unreachable"]
    assert unreach, b["probe_errors"]
    print(f"\nreset port: {reset_errors[0]}; unreachable host: {unreach[0]}")
    # the reason names the cause (the system's text), not asyncio's "Connect call failed"
    vague = [e["reason"] for e in unreach if "No route to host" not in (e["reason"] or "")]
    assert not vague, vague


# --------------------------------------------------------------------------- name resolution


@contextlib.contextmanager
def namespace_resolv_conf(ns: str, text: str) -> Iterator[None]:
    """/etc/netns/<ns>/resolv.conf: ``ip netns exec`` bind-mounts it over /etc/resolv.conf
    for commands run in that namespace only."""
    base = Path("/etc/netns")
    made_base = not base.exists()
    folder = base / ns
    folder.mkdir(parents=True, exist_ok=False)
    try:
        (folder / "resolv.conf").write_text(text)
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if made_base:
            with contextlib.suppress(OSError):
                base.rmdir()


@pytest.mark.lab
def test_unresolvable_name_is_a_usage_error_and_nothing_is_sent(lab: NamespaceLab,
                                                                   tmp_path: Path) -> None:
    name = "nonexistent.camscan-lab.invalid"
    pcap = tmp_path / "dns.pcap"
    with namespace_resolv_conf(lab.scanner_ns, "nameserver 127.0.0.1\noptions timeout:1 "
                                               "attempts:1\n"):
        seen = lab.run_in_scanner(["cat", "/etc/resolv.conf"], timeout=10).stdout
        assert seen.startswith("nameserver 127.0.0.1"), f"resolv.conf not in place: {seen!r}"
        dump = subprocess.Popen(
            ["ip", "netns", "exec", lab.scanner_ns, "tcpdump", "-i", "any", "-n", "-U",
             "--immediate-mode", "-w", str(pcap)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            assert dump.stderr is not None
            started = [dump.stderr.readline().decode(errors="replace") for _ in range(2)]
            assert "listening on any" in "".join(started), started
            proc = lab.scan(dev(lab, "axis-m3045v").ip, name, "-f", "json", timeout=60)
            time.sleep(0.3)
        finally:
            dump.send_signal(signal.SIGINT)
            dump.communicate(timeout=10)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    line = one_line_error(proc.stderr)
    assert name in line and "does not resolve" in line, line
    assert proc.stdout == ""
    packets = read_packets(pcap.read_bytes())
    # sent: the resolver's query to the namespace's own loopback (and its refusal), and at
    # most the kernel's link housekeeping (MLD, router solicitation to ff02::/16; IGMPv3)
    # (on lo a cooked capture keeps only the "In" copy of each packet)
    loopback = [p for p in packets if p.kind == "ipv4" and str(p.dst).startswith("127.")]
    sent = [p for p in packets if p.outgoing]
    assert any(p.dport == 53 for p in loopback), "the resolver never asked (capture broken?)"
    # the kernel's IGMPv3 reports to 224.0.0.22 are housekeeping too: an earlier test's
    # discovery sockets left their groups, and the kernel repeats the state-change report
    # for up to a couple of seconds (igmpv3_unsolicited_report_interval, robustness 2)
    elsewhere = [p.describe() for p in sent if p not in loopback and not (
        p.kind == "ipv6" and str(p.dst).startswith("ff02:")) and not (
        p.kind == "ipv4" and str(p.dst) == "224.0.0.22")]
    assert not elsewhere, elsewhere
    print(f"\nunresolvable name: {line!r}; {len(loopback)} loopback packet(s), nothing else")


# --------------------------------------------------------------------------- outputs


def loopback_scan(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "camscan", "scan", "127.0.0.1", "--ports",
                           "1", "-q", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(REPO), env=LOOPBACK_ENV)


def test_output_on_a_full_disk_is_exit_1_one_line() -> None:
    proc = loopback_scan(["-f", "json", "-o", "/dev/full"])
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    line = one_line_error(proc.stderr)
    assert "No space left on device" in line, line


def _needs_root_mounts() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        lab_unavailable("read-only mount tests need root and util-linux unshare")


@pytest.mark.lab
def test_output_in_a_read_only_folder(tmp_path: Path) -> None:
    """Read-only before the sweep: refused up front (exit 2, nothing sent). Turned read-only
    during the sweep: the sweep runs, the write fails with one line and exit 1, no file."""
    _needs_root_mounts()
    ro = tmp_path / "ro"
    ro.mkdir()
    cam = f"{sys.executable} -m camscan scan 127.0.0.1 -q -f json"
    before = (f"mount -t tmpfs -o ro,size=1m camscan-ro {ro} && "
              f"exec {cam} --ports 1 -o {ro}/out.json")
    late = (f"mount -t tmpfs -o size=1m camscan-ro {ro} && "
            f"(sleep 1.5; mount -o remount,ro {ro}) & "
            f"exec {cam} --ports 1,2,3,4,5,6,7,8 --rate 3 -o {ro}/out.json")
    results = {}
    for name, script in (("before", before), ("late", late)):
        proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                               script], capture_output=True, text=True, timeout=60,
                              cwd=str(REPO), env=LOOPBACK_ENV)
        results[name] = proc
    assert not any(ro.iterdir()), "the private mount leaked"
    b = results["before"]
    assert b.returncode == 2, (b.returncode, b.stderr)
    assert str(ro / "out.json") in one_line_error(b.stderr)
    lt = results["late"]
    assert lt.returncode == 1, (lt.returncode, lt.stderr)
    assert "Read-only file system" in one_line_error(lt.stderr)
    print(f"\nread-only: before -> {b.stderr.strip()!r}; late -> {lt.stderr.strip()!r}")


# --------------------------------------------------------------------------- signals


def inventory_state(db: Path) -> tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        sweeps = con.execute("SELECT id, uuid, complete, partial_reason, devices FROM sweeps "
                             "ORDER BY id").fetchall()
        sightings = con.execute("SELECT sweep_id, ip, manufacturer, verdict FROM sightings "
                                "ORDER BY sweep_id, ip").fetchall()
    finally:
        con.close()
    return str(check), sweeps, sightings


def slow_sweep(lab: NamespaceLab, db: Path, out: Path) -> subprocess.Popen[str]:
    forget_neighbours(lab)
    return scan_popen(lab, [*(d.ip for d in lab.devices), "--rate", "4", "--db", str(db),
                            "-f", "json", "-o", str(out), "-q", "--seed", "6"])


@pytest.mark.lab
def test_sigkill_and_sigterm_mid_sweep_keep_the_inventory(lab: NamespaceLab,
                                                          tmp_path: Path) -> None:
    """A finished sweep is recorded; a SIGKILLed one leaves the inventory intact (integrity
    check ok, the earlier sweep unchanged), no output file and no lock behind; a SIGTERMed
    one writes its output marked partial, exits 130, and is recorded as partial."""
    db = tmp_path / "inv.db"
    first = lab.scan(*(d.ip for d in lab.devices), "--db", str(db), "-f", "json", "-o",
                     str(tmp_path / "first.json"), "-q", "--seed", "6", timeout=90)
    assert first.returncode in (0, 3), first.stderr[-2000:]
    check, sweeps, sightings = inventory_state(db)
    assert check == "ok" and len(sweeps) == 1 and sweeps[0][2] == 1, sweeps
    assert len(sightings) == len(lab.devices), sightings

    killed_out = tmp_path / "killed.json"
    proc = slow_sweep(lab, db, killed_out)
    try:
        wait_for_sweep_start(lab, proc, lab.devices[0])
        time.sleep(0.5)
        # the Python process, not `ip netns exec` (which exec()s it: same pid)
        os.kill(proc.pid, signal.SIGKILL)
        code, _, err = finish(proc, timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == -signal.SIGKILL, (code, err)
    assert inventory_state(db) == (check, sweeps, sightings)
    assert not killed_out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".killed.json")]
    assert not leftovers, f"half-written output left behind: {leftovers}"

    termed_out = tmp_path / "termed.json"
    proc = slow_sweep(lab, db, termed_out)  # also proves the dead sweep left no lock
    try:
        wait_for_sweep_start(lab, proc, lab.devices[0])
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code, _, err = finish(proc, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 130, (code, err)
    assert "Traceback" not in err
    doc = json.loads(termed_out.read_text())
    assert doc["scan"]["partial"] is True and doc["scan"]["finished"]
    check2, sweeps2, sightings2 = inventory_state(db)
    assert check2 == "ok"
    assert sweeps2[0] == sweeps[0], "the first sweep changed"
    assert [s for s in sightings2 if s[0] == sweeps[0][0]] == sightings
    assert len(sweeps2) == 2 and sweeps2[1][2] == 0, sweeps2  # recorded, as partial
    print(f"\nSIGKILL: inventory unchanged ({len(sightings)} sightings), no output; "
          f"SIGTERM: exit 130, partial sweep recorded ({sweeps2[1][3]!r})")

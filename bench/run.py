"""``make bench``: camscan side by side with ``nmap -sV`` on the same lab networks.

Builds each topology of :mod:`bench.topology` in network namespaces, then, inside the
scanner namespace (no route out), runs camscan and ``nmap -sV -T4`` on the same port list,
each under :mod:`bench.measure` (wall time, peak RSS) and under ``tcpdump -Q out`` (what
the scanner sent: TCP SYNs, UDP datagrams, ARP requests). Prints one table per topology and
writes everything as JSON (``bench/results/latest.json`` and a dated copy) so runs can be
compared over time. Root only. See docs/performance.md.

    python -m bench.run [--only 24|16|2000] [--no-nmap] [--nmap16-budget SECONDS]
                        [--farm-budget SECONDS]

``--only 2000`` is the 2,000-live-host farm (:mod:`bench.farm`, camscan only); the default
run is the /24 and the /16. On the /24 it also times the first streamed asset: camscan
``--format jsonl`` three times, the first asset line timed from the process start and from the
header line (written as the sweep starts).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.farm import plan_farm
from bench.pcapcount import count_sent
from bench.scoring import parse_nmap_xml, ratio, score
from bench.topology import FarmDevice, Slash16Lab, slash24_lab
from camscan import __version__
from camscan.probes.base import DEFAULT_PORTS
from camscan.settings import DEFAULTS

RESULTS = Path(__file__).resolve().parent / "results"

# Popen inside the scanner namespace: (argv, stdout file or None) -> process
Spawn = Callable[[Sequence[str], Any], "subprocess.Popen[bytes]"]


@dataclass
class Run:
    tool: str
    command: str
    rc: int | None = None
    wall_s: float | None = None
    maxrss_mb: float | None = None
    sent_syn: int | None = None
    sent_udp: int | None = None
    sent_arp: int | None = None
    sent_total: int | None = None
    found: int | None = None
    maker_correct: int | None = None
    # live devices whose profile names a maker, and how many of them got it
    named: int | None = None
    named_right: int | None = None
    # packets sent / --rate: the least time the rate limit allows; wall / that
    rate_bound_s: float | None = None
    wall_per_bound: float | None = None
    note: str = ""
    # live devices not found or with the wrong maker: address -> "expected X, got Y"
    misses: dict[str, str] = field(default_factory=dict)


@dataclass
class Topology:
    name: str
    target: str
    live_devices: int
    addresses: int
    build_s: float
    runs: list[Run] = field(default_factory=list)
    ratios: dict[str, float | None] = field(default_factory=dict)
    # the first streamed asset (jsonl), one entry per run: seconds from the process start to
    # the header line and to the first asset line
    first_asset: list[dict[str, float | None]] = field(default_factory=list)


def first_asset_times(lines: Sequence[tuple[float, bytes]]) -> dict[str, float | None]:
    """From jsonl lines stamped with seconds since the process start: when the header and
    the first asset came, and the gap between them (the sweep's own time to its first
    asset). Lines that are not JSON objects are ignored."""
    header = asset = None
    for when, line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        kind = doc.get("record") if isinstance(doc, dict) else None
        if kind == "header" and header is None:
            header = when
        elif kind == "asset" and asset is None:
            asset = when
            break
    since = None if header is None or asset is None else round(asset - header, 3)
    return {"header_s": None if header is None else round(header, 3),
            "first_asset_s": None if asset is None else round(asset, 3),
            "first_asset_after_header_s": since}


def time_first_asset(spawn: Spawn, target: str, runs: int = 3,
                     budget: float = 60.0) -> list[dict[str, float | None]]:
    """camscan ``--format jsonl`` on ``target`` ``runs`` times, each line stamped as it
    arrives (the process is stopped after ``budget`` seconds)."""
    out = []
    for _ in range(runs):
        t0 = time.monotonic()
        proc = spawn([sys.executable, "-m", "camscan", "scan", target, "--format", "jsonl",
                      "--quiet"], subprocess.PIPE)
        assert proc.stdout is not None
        lines: list[tuple[float, bytes]] = []

        def stop(pid: int = proc.pid) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

        timer = threading.Timer(budget, stop)  # a silent, hung run still ends
        timer.start()
        try:
            for line in proc.stdout:
                lines.append((time.monotonic() - t0, line))
        finally:
            timer.cancel()
            stop()
            proc.communicate()
        out.append(first_asset_times(lines))
    return out


def port_spec(ports: Sequence[int]) -> str:
    return ",".join(str(p) for p in sorted(set(ports)))


def _start_capture(spawn: Spawn, pcap: Path) -> subprocess.Popen[bytes]:
    proc = spawn(["tcpdump", "-i", "eth0", "-Q", "out", "-s", "128", "-U", "-n", "-w",
                  str(pcap)], subprocess.PIPE)
    # tcpdump says "listening on" on stderr once the capture runs
    assert proc.stderr is not None
    deadline = time.monotonic() + 10
    buf = b""
    os.set_blocking(proc.stderr.fileno(), False)
    while b"listening on" not in buf and time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError, TypeError):
            buf += proc.stderr.read() or b""
        if proc.poll() is not None:
            raise RuntimeError(f"tcpdump exited: {buf.decode(errors='replace')}")
        time.sleep(0.05)
    return proc


def _stop_capture(proc: subprocess.Popen[bytes]) -> None:
    time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measured(spawn: Spawn, tool: str, cmd: Sequence[str], workdir: Path,
             budget: float | None) -> tuple[Run, bytes]:
    """Run ``cmd`` in the scanner namespace under bench.measure and tcpdump; its stdout."""
    out = workdir / f"{tool}.out"
    pcap = workdir / f"{tool}.pcap"
    run = Run(tool=tool, command=" ".join(cmd))
    cap = _start_capture(spawn, pcap)
    try:
        proc = spawn([sys.executable, "-m", "bench.measure", "--stdout", str(out), "--", *cmd],
                     subprocess.PIPE)
        try:
            stdout, _ = proc.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # bench.measure and the tool under it
            proc.communicate()
            run.note = f"did not finish within the {budget:.0f} s budget (stopped)"
            stdout = b""
    finally:
        _stop_capture(cap)
    lines = stdout.decode(errors="replace").strip().splitlines()
    if lines:
        m = json.loads(lines[-1])
        run.rc, run.wall_s = int(m["rc"]), float(m["wall_s"])
        run.maxrss_mb = round(int(m["maxrss_kb"]) / 1024, 1)
    sent = count_sent(pcap.read_bytes() if pcap.exists() else b"")
    run.sent_syn, run.sent_udp, run.sent_arp = sent.syn, sent.udp, sent.arp_requests
    run.sent_total = sent.total
    return run, out.read_bytes() if out.exists() else b""


def camscan_makers(data: bytes) -> dict[str, str | None]:
    try:
        report = json.loads(data)
        return {str(a["ip"]): a.get("manufacturer") for a in report.get("assets", [])}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def misses(found: dict[str, str | None], expected: dict[str, str | None],
           names: dict[str, str]) -> dict[str, str]:
    """Live devices not found or with the wrong maker: address -> what went wrong."""
    out: dict[str, str] = {}
    for ip, maker in expected.items():
        who = names.get(ip, "?")
        if ip not in found:
            out[ip] = f"{who}: expected {maker}, not found"
        elif found[ip] != maker:
            out[ip] = f"{who}: expected {maker}, got {found[ip]}"
    return out


def named_makers(run: Run, got: dict[str, str | None], expected: dict[str, str | None]) -> None:
    named = [ip for ip, maker in expected.items() if maker is not None]
    run.named = len(named)
    run.named_right = sum(1 for ip in named if ip in got and got[ip] == expected[ip])


def bench_topology(name: str, spawn: Spawn, target: str, ports: Sequence[int],
                   expected: dict[str, str | None], names: dict[str, str], addresses: int,
                   build_s: float,
                   workdir: Path, *, nmap: bool, nmap_budget: float | None,
                   camscan_args: Sequence[str] = (), rate_bound: bool = False,
                   camscan_budget: float | None = None) -> Topology:
    topo = Topology(name=name, target=target, live_devices=len(expected), addresses=addresses,
                    build_s=round(build_s, 2))
    cs_cmd = [sys.executable, "-m", "camscan", "scan", target, "--format", "json", "--quiet",
              *camscan_args]
    run, out = measured(spawn, "camscan", cs_cmd, workdir, camscan_budget)
    got = camscan_makers(out)
    s = score(got, expected)
    run.found, run.maker_correct = s.found, s.maker_correct
    named_makers(run, got, expected)
    run.misses = misses(got, expected, names)
    if rate_bound and run.sent_total:
        rate = float(camscan_args[camscan_args.index("--rate") + 1]) \
            if "--rate" in camscan_args else DEFAULTS.rate
        run.rate_bound_s = round(run.sent_total / rate, 1)
        if run.wall_s is not None:
            run.wall_per_bound = round(run.wall_s / run.rate_bound_s, 2)
    topo.runs.append(run)
    if nmap:
        nm_cmd = ["nmap", "-sV", "-T4", "-n", "-p", port_spec(ports), "-oX", "-", target]
        nrun, nout = measured(spawn, "nmap", nm_cmd, workdir, nmap_budget)
        if nrun.wall_s is not None:
            hosts = parse_nmap_xml(nout)
            ngot = {a: h.maker for a, h in hosts.items()}
            ns = score(ngot, expected)
            nrun.found, nrun.maker_correct = ns.found, ns.maker_correct
            named_makers(nrun, ngot, expected)
            nrun.misses = misses(ngot, expected, names)
        topo.runs.append(nrun)
        for key in () if nrun.wall_s is None else ("wall_s", "maxrss_mb", "sent_total"):
            topo.ratios[f"{key} camscan/nmap"] = ratio(getattr(run, key), getattr(nrun, key))
        if nrun.wall_s and run.wall_s:
            topo.ratios["speed-up (nmap wall / camscan wall)"] = round(nrun.wall_s / run.wall_s, 2)
    return topo


def run_slash24(workdir: Path, nmap: bool, budget: float | None) -> Topology:
    with slash24_lab(workdir) as lab:
        expected = {d.ip: d.profile.expect.manufacturer for d in lab.devices}

        def spawn(cmd: Sequence[str], stdout: Any) -> subprocess.Popen[bytes]:
            env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
            return subprocess.Popen(["ip", "netns", "exec", lab.scanner_ns, *cmd],
                                    stdout=stdout, stderr=subprocess.PIPE if stdout else None,
                                    cwd=str(Path(__file__).resolve().parents[1]), env=env,
                                    start_new_session=True)

        names = {d.ip: d.profile_id for d in lab.devices}
        topo = bench_topology("/24, 30 devices", spawn, lab.subnet, DEFAULT_PORTS, expected,
                              names, 254, lab.build_seconds, workdir, nmap=nmap,
                              nmap_budget=budget)
        topo.first_asset = time_first_asset(spawn, lab.subnet)
        return topo


def _bench_farm(lab: Slash16Lab, name: str, workdir: Path, nmap: bool, budget: float | None,
                camscan_budget: float | None = None) -> Topology:
    # the truth (the profile's maker), even where only TCP and the MAC can be heard
    expected = {d.ip: d.maker for d in lab.devices}

    def spawn(cmd: Sequence[str], stdout: Any) -> subprocess.Popen[bytes]:
        return lab.popen_in(lab.scanner_ns, cmd, stdout=stdout,
                            stderr=subprocess.PIPE if stdout else None,
                            start_new_session=True)

    return bench_topology(name, spawn, lab.subnet, DEFAULT_PORTS, expected,
                          {d.ip: d.label for d in lab.devices}, 65534, lab.build_seconds,
                          workdir, nmap=nmap, nmap_budget=budget, rate_bound=True,
                          camscan_budget=camscan_budget)


def run_slash16(workdir: Path, nmap: bool, budget: float | None) -> Topology:
    with Slash16Lab() as lab:
        return _bench_farm(lab, "/16, ~250 live (on-link + routed)", workdir, nmap, budget)


def run_farm2000(workdir: Path, budget: float | None) -> Topology:
    """The 2,000-live-host farm (:mod:`bench.farm`), camscan only, stopped after ``budget``."""
    profiles = workdir / "farm-profiles"
    profiles.mkdir()
    devices: list[FarmDevice] = plan_farm(profiles)
    with Slash16Lab(devices=devices, profile_dir=profiles, ready_timeout=600.0) as lab:
        return _bench_farm(lab, "/16, 2,000 live (500 cameras, printers, PCs, quiet)",
                           workdir, False, None, camscan_budget=budget)


def help_seconds(repeat: int = 7) -> float:
    """Median wall time of ``camscan --help`` (a fresh interpreter each time)."""
    exe = shutil.which("camscan", path=str(Path(sys.executable).parent)) or "camscan"
    times = []
    for _ in range(repeat):
        t0 = time.monotonic()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.monotonic() - t0)
    return round(statistics.median(times), 3)


def heavy_imports() -> list[str]:
    """Heavy modules that importing the CLI loads (should be none)."""
    code = ("import sys, camscan.cli; print(','.join(m for m in ('scapy', 'zeep', 'onvif', "
            "'zeroconf', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.strip()
    return [m for m in out.split(",") if m]


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def print_table(topo: Topology) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{topo.name}: {topo.target} ({topo.addresses:,} addresses, "
                    f"{topo.live_devices} live; lab built in {topo.build_s:.1f} s)")
    for col in ("tool", "wall s", "peak RSS MB", "sent (SYN/UDP/ARP)", "wall / rate bound",
                "found", "maker right", "named maker right", "note"):
        t.add_column(col)
    for r in topo.runs:
        sent = (f"{_fmt(r.sent_total)} ({_fmt(r.sent_syn)}/{_fmt(r.sent_udp)}/"
                f"{_fmt(r.sent_arp)})")
        bound = "-" if r.wall_per_bound is None else \
            f"{r.wall_per_bound:.2f} ({_fmt(r.rate_bound_s)} s)"
        named = "-" if not r.named or r.named_right is None else \
            f"{r.named_right}/{r.named} ({100 * r.named_right / r.named:.1f} %)"
        t.add_row(r.tool, _fmt(r.wall_s), _fmt(r.maxrss_mb), sent, bound,
                  f"{_fmt(r.found)}/{topo.live_devices}",
                  f"{_fmt(r.maker_correct)}/{topo.live_devices}", named, r.note)
    Console(width=max(shutil.get_terminal_size((120, 24)).columns, 120)).print(t)
    for k, v in topo.ratios.items():
        print(f"  {k}: {_fmt(v)}")
    if topo.first_asset:
        def each(key: str) -> str:
            return ", ".join(_fmt(r.get(key)) for r in topo.first_asset)

        print(f"  first streamed asset (camscan -f jsonl, {len(topo.first_asset)} runs): "
              f"{each('first_asset_after_header_s')} s after the header (the sweep's start); "
              f"{each('first_asset_s')} s from the process start")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("24", "16", "2000"),
                    help="run one topology (2000: the 2,000-live-host farm, only this way)")
    ap.add_argument("--no-nmap", action="store_true", help="camscan only")
    ap.add_argument("--nmap16-budget", type=float, default=300.0, metavar="SECONDS",
                    help="stop nmap on the /16 after this long (default 300; 0 skips it)")
    ap.add_argument("--farm-budget", type=float, default=1200.0, metavar="SECONDS",
                    help="stop camscan on the 2,000-host farm after this long (default 1200)")
    ap.add_argument("--json", type=Path, default=RESULTS / "latest.json",
                    help="where to write the results (a dated copy goes next to it)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench: needs root (it builds network namespaces)", file=sys.stderr)
        return 2
    nmap_ok = not args.no_nmap and shutil.which("nmap") is not None
    if not args.no_nmap and not nmap_ok:
        print("bench: nmap not found (make bench installs it); running camscan only",
              file=sys.stderr)
    results: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "camscan_version": __version__, "python": platform.python_version(),
        "cpus": os.cpu_count(), "nmap": _nmap_version() if nmap_ok else None,
        "help_s": help_seconds(), "cli_heavy_imports": heavy_imports(), "topologies": [],
    }
    print(f"camscan --help: {results['help_s']} s (median of 7); heavy modules loaded by the "
          f"CLI: {results['cli_heavy_imports'] or 'none'}")
    with tempfile.TemporaryDirectory(prefix="camscan-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "24"):
            topo = run_slash24(work, nmap_ok, None)
            print_table(topo)
            results["topologies"].append(asdict(topo))
        if args.only in (None, "16"):
            topo = run_slash16(work, nmap_ok and args.nmap16_budget > 0, args.nmap16_budget)
            print_table(topo)
            results["topologies"].append(asdict(topo))
        if args.only == "2000":
            topo = run_farm2000(work, args.farm_budget or None)
            print_table(topo)
            results["topologies"].append(asdict(topo))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2) + "\n"
    args.json.write_text(text)
    stamp = results["when"].replace(":", "").replace("-", "")
    (args.json.parent / f"bench-{stamp}.json").write_text(text)
    print(f"results: {args.json}")
    return 0


def _nmap_version() -> str:
    out = subprocess.run(["nmap", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout.splitlines() or [""])[0]


if __name__ == "__main__":
    raise SystemExit(main())

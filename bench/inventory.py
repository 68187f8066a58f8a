"""``make bench-inventory``: the central inventory's targets (issue 16).

* **Many sensors**: 8 sensors (processes, each with its own connection), each recording two
  sweeps of 2,000 devices of its own site (the first finds them all new, the second matches
  them all), at once into one PostgreSQL database, against one sensor doing the same alone.
  Target: the 8 together take <= 2x the time of the one alone.
* **Worklist**: ``worklist()`` over all sites of an inventory of 100,000 assets and 1,000
  sweeps (100 sites x 10 sweeps; each site's 1,000 devices in 5 segments of 200, one
  segment per sweep, so each device is seen twice; one device in 5 flagged, so 20,000
  worklist rows), from each backend. Target: <= 2 s. The inventory is built through
  ``record_sweep`` (the write path under test elsewhere), so it takes a while.

The server is a throwaway cluster (tests/pg.py: root, Debian's postgresql); without it only
the SQLite figure is measured and the rest says why. Figures are wall times on this machine;
``--strict`` exits 1 when a target is missed (the default only reports).

    python -m bench.inventory [--devices N] [--sensors N] [--assets N] [--json FILE] [--strict]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from camscan.inventory import Inventory, ip_int
from camscan.models import Asset, Evidence, ScanMeta, ScanReport

SWEEPS_PER_SITE = 10
SEGMENTS = 5


@dataclass
class Figure:
    name: str
    seconds: float | None
    target: str
    ok: bool | None
    note: str = ""


def device(site: int, i: int) -> Asset:
    """Device ``i`` of site ``site``: a serial for half, a MAC for a quarter, the address
    alone for the rest; one in five flagged."""
    ip = f"10.{site // 64 % 256}.{site % 64 * 4 + i // 250 % 4}.{i % 250 + 1}"
    flagged = i % 5 == 0
    return Asset(
        ip=ip, serial=f"SN{site:04d}{i:06d}" if i % 2 == 0 else None,
        mac=(f"02:{site // 256 % 256:02x}:{site % 256:02x}:{i // 256 % 256:02x}:"
             f"{i % 256:02x}:01") if i % 4 == 1 else None,
        verdict="remove" if flagged else "keep",
        model="DS-2CD2042WD-I" if flagged else f"M{i % 7}",
        brand="Hikvision" if flagged else "Axis", manufacturer="Hikvision" if flagged
        else "Axis", firmware="V5.5.0", confidence=0.95, device_type="camera",
        verdict_reason="bench",
        evidence=[Evidence(probe="http", key="http.header.server", value="App-webs/",
                           rule="hikvision-http-server-appwebs", port=80)],
    )


def sweep(site: int, devices: list[Asset], day: int, n: int) -> ScanReport:
    started = f"2026-11-{day:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00+00:00"
    meta = ScanMeta(version="0.1.0", targets=[f"10.{site // 64 % 256}.{site % 64 * 4}.0/22"],
                    excludes=[], policy="canada-2025", started=started,
                    finished=started, partial=False, partial_reason=None,
                    addresses=1024, hosts_up=len(devices), options={})
    return ScanReport(scan=meta, assets=devices)


# --- many sensors -------------------------------------------------------------------------


def _sensor(url: str, site: int, n_devices: int, barrier: object, out: object) -> None:
    devices = [device(site, i) for i in range(n_devices)]
    with Inventory.open(url, lock=True, site=f"s{site}") as inv:
        barrier.wait()  # type: ignore[attr-defined]
        cpu0 = time.process_time()
        for day in (1, 2):
            inv.record_sweep(sweep(site, devices, day, site), f"s{site}", sensor=f"s{site}")
        out.put(time.process_time() - cpu0)  # type: ignore[attr-defined]


def sensors_at_once(url: str, n_sensors: int, n_devices: int) -> tuple[float, float]:
    """Wall time from the common start to the last sensor's commit, and the sensors' own
    CPU time (client side, summed)."""
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(n_sensors + 1, timeout=600), ctx.Queue()
    procs = [ctx.Process(target=_sensor, args=(url, s, n_devices, barrier, out))
             for s in range(n_sensors)]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join(900)
    wall = time.perf_counter() - t0
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("a sensor process failed")
    return wall, sum(out.get(timeout=10) for _ in procs)


def server_cpu(data: Path) -> float:
    """CPU seconds the cluster of data folder ``data`` used so far: its postmaster and its
    backends, those still running and those that have ended (Linux ``/proc``)."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(pid) == postmaster or int(fields[1]) == postmaster:
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


# --- worklist -----------------------------------------------------------------------------


def build(target: Path | str, n_assets: int, workers: int) -> int:
    """Record the worklist inventory; returns the number of sweeps."""
    sites = max(1, n_assets // 1000)
    if workers > 1:
        ctx = mp.get_context("fork")
        procs = [ctx.Process(target=_build_sites, args=(target, range(w, sites, workers),
                                                         n_assets // sites))
                 for w in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(3600)
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError("a builder process failed")
    else:
        _build_sites(target, range(sites), n_assets // sites)
    return sites * SWEEPS_PER_SITE


def _build_sites(target: Path | str, sites: range, per_site: int) -> None:
    seg = max(1, per_site // SEGMENTS)
    with Inventory.open(target) as inv:
        for site in sites:
            devices = [device(site, i) for i in range(per_site)]
            for k in range(SWEEPS_PER_SITE):
                part = devices[(k % SEGMENTS) * seg:(k % SEGMENTS + 1) * seg]
                # each sweep covers its segment only: the others stay present
                cover = [(ip_int(part[0].ip) or 0, ip_int(part[-1].ip) or 0)]
                inv.record_sweep(sweep(site, part, 1 + k, site), f"s{site}", coverage=cover)


def time_worklist(target: Path | str, runs: int = 3) -> tuple[float, int]:
    times: list[float] = []
    rows = 0
    for _ in range(runs):
        with Inventory.open(target, write=False) as inv:
            t0 = time.perf_counter()
            rows = len(inv.worklist())
            times.append(time.perf_counter() - t0)
    return statistics.median(times), rows


def line(f: Figure) -> str:
    shown = "-" if f.seconds is None else f"{f.seconds:8.2f} s"
    verdict = "" if f.ok is None else ("ok" if f.ok else "MISSED")
    return f"{f.name:<72} {shown:>10}  {f.target:<24} {verdict:<6} {f.note}"


def worklist_figure(backend: str, target: Path | str, n_assets: int, workers: int
                    ) -> Figure:
    """Build the inventory (``workers`` writers at once: a server takes several), then time
    its worklist."""
    t0 = time.perf_counter()
    n_sweeps = build(target, n_assets, workers)
    print(f"{backend}: built {n_assets} assets, {n_sweeps} sweeps in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    secs, rows = time_worklist(target)
    fig = Figure(f"worklist, {backend} ({n_assets} assets, {n_sweeps} sweeps, {rows} rows)",
                 secs, "<= 2 s", secs <= 2.0)
    print(line(fig), file=sys.stderr)
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.inventory", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=2000, help="devices per sensor")
    ap.add_argument("--sensors", type=int, default=8)
    ap.add_argument("--assets", type=int, default=100_000, help="assets of the worklist run")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args(argv)

    from tests.pg import Cluster, unavailable_reason

    figures: list[Figure] = []
    reason = unavailable_reason()
    with tempfile.TemporaryDirectory(prefix="camscan-bench-inv-") as tmp:
        figures.append(worklist_figure("sqlite", Path(tmp) / "inventory.db", args.assets, 1))
    if reason:
        figures.append(Figure("postgres figures", None, "", None, f"not measured: {reason}"))
    else:
        with Cluster() as cluster:
            alone_url = cluster.create_database("alone")
            together_url = cluster.create_database("together")
            s0 = server_cpu(cluster.data)
            alone, _ = sensors_at_once(alone_url, 1, args.devices)
            s1 = server_cpu(cluster.data)
            together, cpu = sensors_at_once(together_url, args.sensors, args.devices)
            server = server_cpu(cluster.data) - s1
            cores = len(os.sched_getaffinity(0))
            print(f"sensors: alone {alone:.2f} s, {args.sensors} at once {together:.2f} s",
                  file=sys.stderr)
            figures.append(Figure(f"1 sensor alone, 2 sweeps x {args.devices} devices",
                                  alone, "", None))
            figures.append(Figure(
                f"{args.sensors} sensors at once, 2 sweeps x {args.devices} devices each",
                together, f"<= 2x alone ({2 * alone:.2f} s)", together <= 2 * alone,
                f"ratio {together / alone:.2f}; CPU on {cores} core(s): the sensors "
                f"{cpu:.1f} s, the server {server:.1f} s (alone: {s1 - s0:.1f} s)"))
            figures.append(worklist_figure("postgres", cluster.create_database("worklist"),
                                           args.assets, 4))
    print("\n".join(line(f) for f in figures))
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    return 1 if args.strict and any(f.ok is False for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench-pcap`` (part of ``make bench``): listen-only throughput of ``camscan pcap``.

Synthesises a large mixed capture from the committed lab capture
(tests/captures/pcap/nslab-sweep.pcap: ARP, discovery multicast, TCP handshakes, HTTP, RTSP, TLS
and SDK exchanges): its frames are written again and again, each repetition with the lab's
198.18.0.0/24 addresses rewritten into another /24 of 198.18.0.0/15 (64 of them, cycled), into a
temporary classic pcap of ``--mb`` megabytes (default 1024, or ``CAMSCAN_BENCH_PCAP_MB``).
Then ``camscan pcap FILE --format json`` runs on it in a child process, and the figures are
printed: capture megabytes per second of wall time and per second of the child's CPU time (the
process runs on one core; on a shared machine the CPU figure is the steadier one; target >= 50
MB/s) and the child's peak resident memory (the capture is streamed, so this stays flat
whatever its size).
Nothing is sent anywhere; the temporary file is removed.

    python -m bench.pcap [--mb N] [--json FILE] [--strict] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camscan.passive.reader import read_records

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tests" / "captures" / "pcap" / "nslab-sweep.pcap"
TARGET_MBPS = 50.0
VARIANTS = 64
LAB_PREFIX = bytes([198, 18, 0])


def variants(frames: list[bytes]) -> list[bytes]:
    """One block of pcap records per address variant (the lab's /24 moved to 198.18.k.0)."""
    blocks = []
    for k in range(VARIANTS):
        prefix = bytes([198, 18, k])
        out = bytearray()
        for f in frames:
            data = f.replace(LAB_PREFIX, prefix) if k else f
            out += struct.pack("<IIII", 1_700_000_000, 0, len(data), len(data)) + data
        blocks.append(bytes(out))
    return blocks


def synthesise(path: Path, megabytes: float) -> int:
    with open(SOURCE, "rb") as fh:
        frames = [r.data for r in read_records(fh) if r.linktype == 1]
    blocks = variants(frames)
    target = int(megabytes * 1_000_000)
    written = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262_144, 1))
        written = 24
        i = 0
        while written < target:
            block = blocks[i % len(blocks)]
            out.write(block)
            written += len(block)
            i += 1
    return written


def measure(path: Path) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "pcap", str(path), "--format", "json", "-o",
         os.devnull, "--quiet"], env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"camscan pcap failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    size = path.stat().st_size
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "capture_mb": size / 1e6, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
        "cpu_seconds": cpu, "mb_per_cpu_s": size / 1e6 / cpu,
        "peak_rss_mb": after.ru_maxrss / 1024,  # kilobytes on Linux
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pcap", description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float,
                    default=float(os.environ.get("CAMSCAN_BENCH_PCAP_MB") or 1024))
    ap.add_argument("--json", type=Path, help="Also write the figures here.")
    ap.add_argument("--strict", action="store_true", help="Exit 1 below the target rate.")
    ap.add_argument("--keep", type=Path, help="Write the synthetic capture here and keep it.")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="camscan-bench-pcap-") as tmp:
        path = args.keep or Path(tmp) / "mixed.pcap"
        synthesise(path, args.mb)
        figures = measure(path)
    print(f"camscan pcap: {figures['capture_mb']:.0f} MB mixed lab capture in "
          f"{figures['seconds']:.1f} s wall = {figures['mb_per_s']:.1f} MB/s; "
          f"{figures['cpu_seconds']:.1f} s CPU = {figures['mb_per_cpu_s']:.1f} MB per CPU "
          f"second (one core; target >= {TARGET_MBPS:.0f}); peak RSS "
          f"{figures['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if args.strict and figures["mb_per_cpu_s"] < TARGET_MBPS else 0


if __name__ == "__main__":
    sys.exit(main())

"""Packet loss on the namespace lab's bridge, by nftables rules in the switch namespace.

The kernel may lack ``sch_netem`` (``tc qdisc ... netem loss`` then fails with "qdisc kind is
unknown"), so loss is a ``bridge`` family table on ``br0``'s forward hook instead. The rules
live in the lab's own switch namespace and go with it; :func:`clear` removes them sooner.

* :func:`first_arp_replies` drops the first ARP reply each device sends towards the scanner
  and lets every later one through: deterministic, so a sweep that asks once finds no device
  and one that asks the silent again finds them all (a test that cannot pass by luck).
* :func:`random_loss` drops ``percent`` of every forwarded frame at random (``numgen
  random``): the noisy link of a measurement, not of an assertion.

Each table counts what it dropped: :func:`dropped`.
"""

from __future__ import annotations

import json
import shutil
import subprocess

TABLE = "camscan_loss"
SCANNER_PORT = "vsc"  # the switch's veth towards the scanner (tests/lab/netns.py)


def available() -> str | None:
    """Why loss rules cannot be set here (None: they can)."""
    if shutil.which("nft") is None:
        return "nft (Debian package nftables, scripts/sysdeps.sh) is not installed"
    return None


def first_arp_replies(port: str = SCANNER_PORT) -> str:
    """Ruleset: drop each device's first ARP reply out of ``port``, pass the rest."""
    reply = f'ether type arp arp operation reply oifname "{port}"'
    return f"""table bridge {TABLE} {{
  set answered {{ type ipv4_addr; size 4096; flags dynamic; }}
  counter dropped {{ }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    {reply} arp saddr ip @answered accept
    {reply} add @answered {{ arp saddr ip }} counter name dropped drop
  }}
}}
"""


def random_loss(percent: int) -> str:
    """Ruleset: drop ``percent`` % (0-100) of every frame the bridge forwards, at random."""
    if not 0 <= percent <= 100:
        raise ValueError("percent is 0..100")
    return f"""table bridge {TABLE} {{
  counter dropped {{ }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    numgen random mod 100 < {percent} counter name dropped drop
  }}
}}
"""


def _nft(ns: str, args: list[str], stdin: str | None = None) -> str:
    proc = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin, text=True,
                          capture_output=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"nft {' '.join(args)} in {ns}: {proc.stderr.strip()[:500]}")
    return proc.stdout


def apply(ns: str, ruleset: str) -> None:
    """Replace the loss table of namespace ``ns`` (the lab's switch) by ``ruleset``."""
    clear(ns)
    _nft(ns, ["-f", "-"], stdin=ruleset)


def clear(ns: str) -> None:
    """Remove the loss table from ``ns`` (nothing when there is none)."""
    if TABLE in _nft(ns, ["list", "tables", "bridge"]).split():
        _nft(ns, ["delete", "table", "bridge", TABLE])


def dropped(ns: str) -> int:
    """Frames the loss table of ``ns`` dropped so far."""
    doc = json.loads(_nft(ns, ["-j", "list", "counter", "bridge", TABLE, "dropped"]))
    for item in doc.get("nftables", []):
        counter = item.get("counter") if isinstance(item, dict) else None
        if isinstance(counter, dict):
            return int(counter.get("packets", 0))
    raise RuntimeError("no dropped counter in the loss table")

"""Generate docs/observations.md from the probe registry.

``python -m camscan.probes.docs`` rewrites the file; ``--check`` exits 1 when the committed
file differs from what the registry says (tests/unit/probes/test_docs.py runs the same check).
"""

from __future__ import annotations

import sys
from pathlib import Path

from camscan.probes.registry import LISTEN_ONLY, SPECS, ProbeSpec, http_paths

DOC = Path(__file__).resolve().parents[2] / "docs" / "observations.md"

_HEAD = """\
# Observation keys (the contract between probes and fingerprint rules)

<!-- Generated from camscan/probes/registry.py by `python -m camscan.probes.docs`
     (or `make docs`); do not edit by hand: tests/unit/probes/test_docs.py checks it. -->

A probe reports what it heard as `Observation(ip, probe, key, value, port, mac, credentialed)`.
Rules match on `key`. Values are text (binary is hex, lower case, no spaces), at most 64 KiB.
One observation per value: a header seen twice gives two observations. `camscan fingerprints
check` reports a rule whose key no probe below produces.

`sadp.<field>` stands for every key with that prefix. `http.{path}` stands for each vendor
path the http probe fetches (fingerprints/requests/http-paths.yaml): {paths}.
Keys marked *informative* are shown as evidence even when no rule fired on them.

| key | probe | value |
|---|---|---|
"""

_TAIL = """
`camscan pcap` and `camscan listen` (docs/passive.md) produce the same keys as the probes
whose bytes they hear (the probe named is the one whose parser read them: `http`, `rtsp`,
`tls`, `sdk`, `dvrip`, `wsd`, `mdns`, `sadp`, `dhip`, `arp`, and `tcp` for `tcp.open` of a
port seen answering), plus the listen-only keys above (`ethernet`, `dhcp`, `ssdp-heard`).

## Probes

| probe | transport | default ports | credentials | what it does |
|---|---|---|---|---|
{probes}

Keys ending in `.serial` link observations of one device across addresses; keys ending in
`.mac` (and the observation's `mac`) link by MAC.
"""


def render() -> str:
    """The whole of docs/observations.md."""
    rows: dict[tuple[str, str], list[str]] = {}
    for spec in (*SPECS, *LISTEN_ONLY):
        for k in spec.keys:
            doc = k.doc + (" *(informative)*" if k.informative else "")
            rows.setdefault((k.key, doc), []).append(spec.name)
    paths = ", ".join(f"`{p.prefix}` (`GET {p.path}`, {p.vendor})" for p in http_paths())
    out = [_HEAD.replace("{paths}", paths)]
    for (key, doc), names in rows.items():
        out.append(f"| `{key}` | {' / '.join(names)} | {doc} |\n")
    probes = "\n".join(
        f"| {s.name} | {s.transport} | {_ports(s)} | "
        f"{'yes' if s.credentials else 'no'} | {s.summary} |" for s in SPECS)
    out.append(_TAIL.replace("{probes}", probes))
    return "".join(out)


def _ports(s: ProbeSpec) -> str:
    """The default ports, and the probe's other ports (probed only when found open)."""
    text = ", ".join(map(str, s.default_ports)) or "-"
    if s.other_ports:
        text += f" (and, when open: {', '.join(map(str, s.other_ports))})"
    return text


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        if DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is out of date: run python -m camscan.probes.docs", file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m camscan.probes.docs [--check]", file=sys.stderr)
        return 2
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

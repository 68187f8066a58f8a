"""A real SNMP agent for the tests: Debian's net-snmp ``snmpd`` (scripts/sysdeps.sh installs it)
with a temporary ``snmpd.conf`` carrying one device profile's system group (and ENTITY-MIB
values through ``override``), a v2c community and optionally a v3 user, started on a given
address (loopback, best inside a private network namespace such as ``unshare -n``, or a
device namespace of the namespace lab via ``prefix``) and stopped on exit, even on failure.

Nothing here reaches another address: the agent listens only on ``ip:port`` and answers only
requests from ``allow`` (the community's source restriction).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SNMPD = "/usr/sbin/snmpd"
ENTITY_COLUMNS = {"serial": "11", "mfg_name": "12", "model": "13"}  # entPhysicalEntry columns


def available() -> bool:
    return Path(SNMPD).is_file() or shutil.which("snmpd") is not None


@dataclass(frozen=True)
class AgentSpec:
    """What the agent says and whom it answers."""

    sys_descr: str
    sys_object_id: str
    sys_name: str = "camera"
    community: str | None = None  # v2c read-only community
    v3_user: tuple[str, str, str] | None = None  # (user, SHA auth key, AES priv key)
    entity: Mapping[str, str] = field(default_factory=dict)  # serial / mfg_name / model
    allow: str = "0.0.0.0/0"  # source addresses the community answers


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config(spec: AgentSpec, ip: str, port: int) -> str:
    """The snmpd.conf of ``spec`` listening on ``ip:port``."""
    lines = [f"agentaddress udp:{ip}:{port}",
             f"sysDescr {spec.sys_descr}",
             f"sysObjectID {spec.sys_object_id}",
             f"sysName {spec.sys_name}",
             "sysLocation lab", "sysContact lab"]
    if spec.community:
        lines.append(f"rocommunity {spec.community} {spec.allow}")
    if spec.v3_user:
        user, auth, priv = spec.v3_user
        lines += [f"createUser {user} SHA {_quote(auth)} AES {_quote(priv)}", f"rouser {user} priv"]
    for name, value in spec.entity.items():
        lines.append(f"override .1.3.6.1.2.1.47.1.1.1.1.{ENTITY_COLUMNS[name]}.1 octet_str "
                     f"{_quote(value)}")
    return "\n".join(lines) + "\n"


def _ready(ip: str, port: int, community: str | None, deadline: float) -> bool:
    """Poll until the agent answers a v2c get (or, without a community, until the deadline
    leaves a second: a v3-only agent is given that long to start)."""
    if community is None:
        time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
        return True
    from camscan.probes.snmp import SYS_NAME, build_request

    probe = build_request(community, [SYS_NAME], 1)
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            with contextlib.suppress(OSError):
                s.sendto(probe, (ip, port))
                if s.recv(4096):
                    return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def agent(spec: AgentSpec, ip: str = "127.0.0.1", port: int = 161,
          prefix: Sequence[str] = (), timeout: float = 10.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run snmpd for ``spec`` on ``ip:port`` (``prefix``: e.g. ``ip netns exec NAME``)."""
    with tempfile.TemporaryDirectory(prefix="camscan-snmpd-") as tmp:
        conf = Path(tmp) / "snmpd.conf"
        conf.write_text(config(spec, ip, port), encoding="utf-8")
        conf.chmod(0o600)
        persist = Path(tmp) / "persist"
        persist.mkdir()
        cmd = [*prefix, "env", f"SNMP_PERSISTENT_DIR={persist}", SNMPD, "-f", "-C", "-c",
               str(conf), "-Ln", "-M", "/nonexistent", "-p", str(Path(tmp) / "snmpd.pid")]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            if not _ready(ip, port, spec.community, time.monotonic() + timeout):
                raise RuntimeError(f"snmpd did not answer on {ip}:{port}")
            if proc.poll() is not None:
                err = proc.stderr.read()[-400:] if proc.stderr else b""
                raise RuntimeError(f"snmpd exited: {err!r}")
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()


# ------------------------------------------------------------------ the namespace lab's agents

# what every lab agent accepts (the lab's credentials file gives camscan the same)
LAB_COMMUNITY = "camscan-lab-community"
LAB_V3_USER = ("camscan", "lab-auth-key-0001", "lab-priv-key-0001")


def spec_for(values: Mapping[str, str]) -> AgentSpec:
    """The agent of a profile's ``discovery.snmp`` (tests/lab/profiles.py SNMP_FIELDS)."""
    return AgentSpec(values["sys_descr"], values["sys_object_id"],
                     values.get("sys_name", "camera"), community=LAB_COMMUNITY,
                     v3_user=LAB_V3_USER,
                     entity={k: values[k] for k in ENTITY_COLUMNS if values.get(k)})


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.lab.snmpd --profile ID --ip ADDR``: run the profile's agent on
    ``ADDR:161`` (inside a device namespace), print ``READY`` and stop it on SIGTERM."""
    import argparse
    import sys

    from tests.lab.profiles import PROFILE_DIR, load_profile

    ap = argparse.ArgumentParser(prog="python -m tests.lab.snmpd")
    ap.add_argument("--profile-dir", type=Path, default=PROFILE_DIR)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--ip", required=True)
    args = ap.parse_args(argv)
    profile = load_profile(args.profile_dir / f"{args.profile}.yaml")
    if profile.discovery.snmp is None:
        print(f"snmpd: {profile.id} has no discovery.snmp", file=sys.stderr)
        return 2
    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        with agent(spec_for(profile.discovery.snmp), ip=args.ip) as proc:
            print(f"READY {profile.id} {args.ip} snmp=161", flush=True)
            while not stop and proc.poll() is None:
                time.sleep(0.1)
    except RuntimeError as exc:
        print(f"snmpd: {profile.id}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

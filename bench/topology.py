"""The benchmark's network topologies, built from Linux network namespaces (root only).

* :func:`slash24_lab`: the namespace device lab (``tests/lab/netns.py``) with 30 devices of
  mixed profiles on 198.18.0.0/24 (the 20 lab profiles, then 10 of them again with their own
  MACs), each in its own namespace with every protocol it speaks (discovery included).
* :class:`Slash16Lab`: 198.19.0.0/16 (inside RFC 2544's 198.18.0.0/15) with about 250 live
  devices spread through it and the rest silent::

      scanner ns (198.19.0.2/17, no default route)
         |  veth
      switch ns: bridge br0 ----- veth ----- on-link farm ns: one macvlan per live device
         |                                    (own MAC, own address in 198.19.0.0/17,
         |                                    arp_ignore=1: only the owner answers ARP)
         veth
      router ns (198.19.0.1/17): a route per live routed device, blackhole for the rest of
         |                       198.19.128.0/17 (connects to silent addresses time out)
         veth (198.18.254.0/30)
      routed farm ns: the live routed devices' addresses

  One emulator process (``tests.lab.emulator``, TCP services of the lab profiles) serves
  every live device of a farm. On-link silent addresses never answer ARP; routed silent
  addresses are dropped by the router. Nothing has a route out of the lab.

Namespace names follow the namespace lab's family (``cs<pid>x<n>-sw|sc|dN``) so the lab's
stale sweep removes them if a run is ever killed before its teardown.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.lab.netns import (
    REPO,
    LabError,
    NamespaceLab,
    _delete_namespaces,
    _ip,
    _kill_namespace_processes,
    list_namespaces,
    sweep_stale,
    unavailable_reason,
)
from tests.lab.profiles import Profile, load_profiles

SLASH16 = ipaddress.IPv4Network("198.19.0.0/16")
ONLINK = ipaddress.IPv4Network("198.19.0.0/17")
ROUTED = ipaddress.IPv4Network("198.19.128.0/17")
SCANNER16 = "198.19.0.2"
ROUTER16 = "198.19.0.1"
TRANSIT = ("198.18.254.1", "198.18.254.2")  # router <-> routed farm, a /30


def _nft(ns: str, ruleset: str) -> None:
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset.encode(),
                         capture_output=True, timeout=30, check=False)
    if out.returncode:
        raise LabError(f"nft in {ns}: {out.stderr.decode(errors='replace')[-500:]}")


def vary_mac(mac: str, n: int) -> str:
    """``mac`` with its device half (last three octets) shifted by ``n``: same OUI, a MAC
    of its own."""
    octets = mac.lower().split(":")
    low = (int("".join(octets[3:]), 16) + 0x010101 * n) & 0xFFFFFF
    tail = f"{low:06x}"
    return ":".join([*octets[:3], tail[0:2], tail[2:4], tail[4:6]])


def copy_serial(serial: str, n: int) -> str:
    """A serial of the same shape and length for copy ``n`` of a unit: its tail replaced."""
    width = max(4, len(str(n)))
    tail = f"{n:0{width}d}"
    out = serial[:-width] + tail if len(serial) > width else tail[-len(serial):]
    if out == serial:  # the tail already was n: mark the copy one place earlier
        out = serial[:-width - 1] + ("X" if serial[-width - 1] != "X" else "Y") + tail
    return out


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    return value


def copy_profile_yaml(p: Profile, n: int, *, discovery: bool = True) -> dict[str, Any]:
    """Profile ``p`` as a second real unit (id ``<id>-copy<n>``): its own MAC, its own serial
    wherever the profile emits one (SNMP, mDNS names, and every capture through the lab's
    ``rewrite``: UPnP description, Dahua realms), its own mDNS name; it answers neither SADP
    nor DHIP. ``discovery=False`` drops every discovery answer (a TCP-only farm)."""
    raw: dict[str, Any] = yaml.safe_load(p.path.read_text(encoding="utf-8"))
    raw["id"] = f"{p.id}-copy{n}"
    raw["mac"] = vary_mac(p.mac, n)
    serial = p.expect.serial
    if serial:
        own = copy_serial(serial, n)
        raw = _replace_strings(raw, serial, own)
        raw["rewrite"] = {serial: own}
    disc = raw.get("discovery") or {}
    # SADP and DHIP replies are built from captures of the original unit (other ids than
    # the serial): copies answer neither (as units with them turned off do)
    for proto in ("sadp", "dhip"):
        disc.pop(proto, None)
    mdns = disc.get("mdns")
    if isinstance(mdns, dict):
        mdns["instance"] = f"{mdns['instance']}-{n}"
        mdns["server"] = str(mdns["server"]).replace(".local.", f"-{n}.local.")
    if not discovery:
        raw.pop("discovery", None)
    return raw


def write_slash24_profiles(directory: Path, count: int = 30) -> list[str]:
    """Write ``count`` device profiles of mixed kinds into ``directory`` and return their ids:
    every lab profile once, then copies (:func:`copy_profile_yaml`) until there are
    ``count``. A copy that kept its original's serial (SNMP ``entPhysicalSerialNum``, UPnP
    ``serialNumber``) would rightly be merged with it into one asset by camscan."""
    base = load_profiles()
    ids: list[str] = []
    for i in range(count):
        p = base[i % len(base)]
        if i >= len(base):
            raw = copy_profile_yaml(p, i)
        else:
            raw = yaml.safe_load(p.path.read_text(encoding="utf-8"))
        (directory / f"{raw['id']}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False),
                                                     encoding="utf-8")
        ids.append(str(raw["id"]))
    return ids


def slash24_lab(directory: Path, count: int = 30) -> NamespaceLab:
    """The /24 topology (not yet started); its profiles are written into ``directory``."""
    return NamespaceLab(profile_ids=write_slash24_profiles(directory, count),
                        profile_dir=directory)


@dataclass(frozen=True)
class FarmDevice:
    """A live device of a farm. ``answers``: ``tcp`` (the emulator serves ``profile``'s TCP
    services), ``closed`` (every port closed: the kernel's RSTs, as a PC with no server),
    ``arp`` (on-link only: answers ARP, drops every IP packet)."""

    ip: str
    mac: str
    profile: Profile | None
    routed: bool
    answers: str = "tcp"
    name: str = ""

    @property
    def label(self) -> str:
        return self.profile.id if self.profile else self.name

    @property
    def maker(self) -> str | None:
        """The maker camscan must name (None: a device no profile describes)."""
        return self.profile.expect.manufacturer if self.profile else None


def plan_slash16(onlink: int = 200, routed: int = 50, seed: int = 2544,
                 profiles: Sequence[Profile] | None = None) -> list[FarmDevice]:
    """Where the live devices of the /16 go: ``onlink`` addresses spread through
    198.19.0.0/17 and ``routed`` through 198.19.128.0/17 (seeded, so every run is the same),
    cycling through the lab profiles that have TCP services."""
    pool = [p for p in (profiles or load_profiles()) if p.ports]
    if not pool:
        raise LabError("no lab profile has TCP services")
    rng = random.Random(seed)
    taken = {SCANNER16, ROUTER16}

    def pick(net: ipaddress.IPv4Network, n: int) -> list[str]:
        chosen: list[str] = []
        while len(chosen) < n:
            ip = str(net.network_address + rng.randrange(1, net.num_addresses - 1))
            last = int(ip.rsplit(".", 1)[1])
            if ip in taken or last in (0, 255):
                continue
            taken.add(ip)
            chosen.append(ip)
        return sorted(chosen, key=lambda a: ipaddress.IPv4Address(a))

    out: list[FarmDevice] = []
    for i, ip in enumerate(pick(ONLINK, onlink) + pick(ROUTED, routed)):
        p = pool[i % len(pool)]
        out.append(FarmDevice(ip=ip, mac=vary_mac(p.mac, i + 1), profile=p,
                              routed=ipaddress.IPv4Address(ip) in ROUTED))
    return out


# Kernel limits shared by every namespace, raised (never lowered) for a farm of more than a
# few hundred on-link devices: the neighbour table must hold the scanner's entry for each
# on-link device and each macvlan's entry for the scanner; the per-CPU backlog takes the
# bursts of replies the macvlans' broadcast worker sends into the veth at once.
HOST_LIMITS = (("/proc/sys/net/ipv4/neigh/default/gc_thresh1", 4096),
               ("/proc/sys/net/ipv4/neigh/default/gc_thresh2", 8192),
               ("/proc/sys/net/ipv4/neigh/default/gc_thresh3", 16384),
               ("/proc/sys/net/core/netdev_max_backlog", 20000))
# the macvlans' shared queue of broadcasts (every ARP request is copied to every macvlan by a
# kernel worker; the default 1,000 drops requests once a farm has a thousand devices)
MACVLAN_BC_QUEUE = 65536


class Slash16Lab:
    """The /16 topology; ``with Slash16Lab() as lab:`` builds it and always tears it down.
    ``devices`` (default: :func:`plan_slash16`) and their ``profile_dir`` may be given; each
    emulator process serves at most ``shard`` devices."""

    def __init__(self, onlink: int = 200, routed: int = 50, seed: int = 2544,
                 python: str | None = None, ready_timeout: float = 120.0, *,
                 devices: Sequence[FarmDevice] | None = None, profile_dir: Path | None = None,
                 shard: int = 400) -> None:
        self.devices = list(devices) if devices is not None else plan_slash16(onlink, routed,
                                                                               seed)
        if any(d.answers == "arp" and d.routed for d in self.devices):
            raise LabError("an ARP-only device must be on-link")
        self.profile_dir = profile_dir
        self.shard = shard
        self._host_saved: list[tuple[Path, str, str]] = []
        self.prefix = f"cs{os.getpid():x}x{900 + os.getpid() % 97}-"
        self.switch_ns = self.prefix + "sw"
        self.scanner_ns = self.prefix + "sc"
        self.farm_ns = self.prefix + "d1"
        self.router_ns = self.prefix + "d2"
        self.routed_ns = self.prefix + "d3"
        self.python = python or sys.executable
        self.ready_timeout = ready_timeout
        self.scanner_ip = SCANNER16
        self.subnet = str(SLASH16)
        self.build_seconds = 0.0
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Path] = []
        self._created: list[str] = []
        self._logdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}bench-"))

    @property
    def namespaces(self) -> list[str]:
        return [self.switch_ns, self.scanner_ns, self.farm_ns, self.router_ns, self.routed_ns]

    def __enter__(self) -> Slash16Lab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _batch(self, ns: str, cmds: Sequence[str]) -> None:
        _ip(["-n", ns, "-batch", "-"], stdin="".join(c + "\n" for c in cmds), timeout=60.0)

    def _sysctl(self, ns: str, *settings: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *settings],
                       check=True, capture_output=True, timeout=20)

    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise LabError(reason)
        t0 = time.monotonic()
        sweep_stale()
        self._raise_host_limits()
        self._created = list(self.namespaces)
        _ip(["-batch", "-"], stdin="".join(f"netns add {n}\n" for n in self.namespaces))
        sw, sc, farm, rt, rfarm = self.namespaces
        for ns in (farm, rt, rfarm):
            self._sysctl(ns, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        # only the macvlan that owns an address answers ARP for it, from its own MAC
        self._sysctl(farm, "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
                     "net.ipv4.conf.default.arp_ignore=1", "net.ipv4.conf.default.arp_announce=2")
        self._sysctl(rt, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
                     "net.ipv4.conf.default.send_redirects=0")
        _ip(["-batch", "-"], stdin=(
            f"link add vsc netns {sw} type veth peer name eth0 netns {sc}\n"
            f"link add vfarm netns {sw} type veth peer name eth0 netns {farm}\n"
            f"link add vrt netns {sw} type veth peer name eth0 netns {rt}\n"
            f"link add transit netns {rt} type veth peer name eth0 netns {rfarm}\n"))
        self._batch(sw, ["link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
                         "link set br0 up", "link set lo up",
                         *(c for port in ("vsc", "vfarm", "vrt")
                           for c in (f"link set {port} master br0", f"link set {port} up"))])
        self._batch(sc, ["link set lo up", f"addr add {SCANNER16}/17 dev eth0", "link set eth0 up",
                         f"route add {ROUTED} via {ROUTER16}", "route add 224.0.0.0/4 dev eth0"])
        onlink = [d for d in self.devices if not d.routed]
        routed = [d for d in self.devices if d.routed]
        farm_cmds = ["link set lo up", "link set eth0 up"]
        for i, d in enumerate(onlink):
            farm_cmds += [f"link add m{i} link eth0 address {d.mac} type macvlan mode bridge"
                          f" bcqueuelen {MACVLAN_BC_QUEUE}",
                          f"addr add {d.ip}/17 dev m{i}", f"link set m{i} up"]
        self._batch(farm, farm_cmds)
        quiet = [d.ip for d in onlink if d.answers == "arp"]
        if quiet:
            _nft(farm, "table ip quiet {\n chain in {\n  type filter hook input priority 0\n"
                       f"  ip daddr {{ {', '.join(quiet)} }} drop\n }}\n}}\n")
        self._batch(rt, ["link set lo up", f"addr add {ROUTER16}/17 dev eth0", "link set eth0 up",
                         f"addr add {TRANSIT[0]}/30 dev transit", "link set transit up",
                         *(f"route add {d.ip}/32 via {TRANSIT[1]}" for d in routed),
                         f"route add blackhole {ROUTED}"])
        self._batch(rfarm, ["link set lo up", f"addr add {TRANSIT[1]}/30 dev eth0",
                            "link set eth0 up", f"route add {ONLINK} via {TRANSIT[0]}",
                            *(f"addr add {d.ip}/32 dev lo" for d in routed)])
        for name, ns, group in (("onlink", farm, onlink), ("routed", rfarm, routed)):
            served = [d for d in group if d.answers == "tcp"]
            for k in range(0, len(served), self.shard):
                self._serve(ns, served[k:k + self.shard], f"{name}{k // self.shard}")
        self._wait_ready()
        self.build_seconds = time.monotonic() - t0

    def _serve(self, ns: str, devices: Sequence[FarmDevice], name: str) -> None:
        if not devices:
            return
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        env["TMPDIR"] = str(self._logdir)
        argv = [self.python, "-m", "tests.lab.emulator", "serve", "--any-address"]
        if self.profile_dir is not None:
            argv += ["--profile-dir", str(self.profile_dir)]
        for d in devices:
            argv += ["--bind", f"{d.ip}={d.label}"]
        log = self._logdir / f"{name}.log"
        self._logs.append(log)
        with open(log, "wb") as fh:
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv], stdin=subprocess.DEVNULL, stdout=fh,
                stderr=subprocess.STDOUT, cwd=str(REPO), env=env, start_new_session=True))

    def _raise_host_limits(self) -> None:
        """Raise the kernel limits of :data:`HOST_LIMITS` where they are lower (put back by
        :meth:`close` unless someone changed them meanwhile)."""
        onlink = sum(1 for d in self.devices if not d.routed)
        if 2 * onlink + 64 <= 512:
            return
        for name, want in HOST_LIMITS:
            path = Path(name)
            old = path.read_text().strip()
            if int(old) < want:
                path.write_text(str(want))
                self._host_saved.append((path, old, str(want)))

    def _restore_host_limits(self) -> None:
        for path, old, ours in reversed(self._host_saved):
            with contextlib.suppress(OSError):
                if path.read_text().strip() == ours:
                    path.write_text(old)
        self._host_saved = []

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        logs = list(self._logs)
        while True:
            texts = [p.read_text(errors="replace") for p in logs]
            if all("READY" in t for t in texts):
                return
            for proc, text in zip(self.procs, texts, strict=False):
                if proc.poll() is not None:
                    raise LabError(f"emulator exited {proc.returncode}: {text[-2000:]}")
            if time.monotonic() > deadline:
                raise LabError(f"emulators not READY after {self.ready_timeout:.0f} s")
            time.sleep(0.1)

    def popen_in(self, ns: str, cmd: Sequence[str], *, stdout: Any = None, stderr: Any = None,
                 start_new_session: bool = False) -> subprocess.Popen[bytes]:
        if ns not in self.namespaces:
            raise ValueError(f"{ns} is not a namespace of this lab")
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO)
        return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], cwd=str(REPO), env=env,
                                stdout=stdout, stderr=stderr,
                                start_new_session=start_new_session)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        existing = [n for n in self._created if n in set(list_namespaces())]
        _kill_namespace_processes(existing)
        _delete_namespaces(existing)
        self._created = []
        self._restore_host_limits()
        for f in self._logdir.glob("*"):
            with contextlib.suppress(OSError):
                f.unlink()
        with contextlib.suppress(OSError):
            self._logdir.rmdir()

"""The namespace device lab: emulated devices on one bridge, each in its own network namespace.

Layout (everything lives in namespaces this module creates; the host's own namespace gets no
interface, bridge, route or packet)::

    <prefix>sw   the "switch": bridge br0 (multicast snooping off, so groups flood like a
                 small unmanaged switch), one veth port per device and one for the scanner
    <prefix>sc   the scanner: eth0 198.18.0.2/24, lo, a multicast route, NO default route
    <prefix>dN   one per device: eth0 with the profile's MAC and 198.18.0.N/24, lo up,
                 route 224.0.0.0/4 dev eth0; runs one process (tests.lab.responders
                 --services) serving the device's TCP services (the loopback lab's
                 emulator) and its discovery responders

198.18.0.0/15 is the RFC 2544 benchmarking range: never a real LAN's. The per-run prefix is
``cs<pid-hex>x<n>-``; :func:`sweep_stale` removes namespaces (and ``$TMPDIR/<prefix>logs``
folders) of that family whose creating process is gone (a crashed or killed earlier run), and
nothing else.

Teardown (``close()``, the context manager, ``atexit`` and SIGTERM) is idempotent: it stops
every process the lab started, then deletes its namespaces (which deletes the veths and the
bridge with them). Children also get ``PR_SET_PDEATHSIG`` so a SIGKILLed parent leaves no
running device behind; its namespaces are then swept by the next run.

Build the lab from the thread that will also close it (the death signal of the children is
tied to the thread that started them).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

import yaml

from tests.lab import loss as lab_loss
from tests.lab.profiles import PROFILE_DIR, Expect, Profile, load_profiles

REPO = Path(__file__).resolve().parents[2]

SUBNET = ipaddress.IPv4Network("198.18.0.0/24")  # inside RFC 2544's 198.18.0.0/15
SCANNER_IP = "198.18.0.2"
FIRST_DEVICE_HOST = 10
PREFIX_FAMILY = re.compile(r"^cs([0-9a-f]{1,8})x(\d{1,4})-(sw|sc|d\d{1,3})$")
LOGDIR_FAMILY = re.compile(r"^cs([0-9a-f]{1,8})x(\d{1,4})-logs$")
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1

T = TypeVar("T")


class LabError(RuntimeError):
    """The lab could not be built (the message says which step and why)."""


# --------------------------------------------------------------------------- host checks

def unavailable_reason() -> str | None:
    """Why the namespace lab cannot run here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "the namespace lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "the namespace lab needs root (ip netns, veth, bridge)"
    if shutil.which("ip") is None:
        return "the namespace lab needs iproute2's `ip` command (make sysdeps)"
    return None


def _ip(args: Sequence[str], *, stdin: str | None = None, check: bool = True,
        timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        what = " ".join(args) if stdin is None else f"{' '.join(args)} <<< {stdin.strip()!r}"
        raise LabError(f"ip {what}: {proc.stderr.strip() or proc.returncode}")
    return proc


def list_namespaces() -> list[str]:
    proc = _ip(["-j", "netns", "list"], check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    try:
        return [str(item["name"]) for item in json.loads(proc.stdout)]
    except (ValueError, KeyError, TypeError):
        return []


def host_link_names() -> set[str]:
    """Interface names of the namespace this process runs in (the host's, normally)."""
    proc = _ip(["-j", "link"], check=False)
    try:
        return {str(item["ifname"]) for item in json.loads(proc.stdout or "[]")}
    except (ValueError, KeyError, TypeError):
        return set()


def namespace_pids(ns: str) -> list[int]:
    proc = _ip(["netns", "pids", ns], check=False)
    return [int(x) for x in proc.stdout.split() if x.isdigit()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_namespace_processes(names: Iterable[str]) -> None:
    """SIGKILL whatever still runs inside these (lab) namespaces: only lab processes do."""
    me = os.getpid()
    for ns in names:
        for pid in namespace_pids(ns):
            if pid != me:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _delete_namespaces(names: Sequence[str]) -> None:
    if not names:
        return
    _ip(["-force", "-batch", "-"], stdin="".join(f"netns del {n}\n" for n in names),
        check=False)
    # Deleting a namespace only unmounts its name; make sure each one is gone.
    left = set(names) & set(list_namespaces())
    for name in left:
        _ip(["netns", "del", name], check=False)


def sweep_stale() -> list[str]:
    """Delete lab namespaces left by earlier runs whose process is gone; return their names.

    Only names of this lab's family (``cs<pid-hex>x<n>-sw|sc|dN``) are considered, and a
    namespace whose creating process still runs (a concurrent lab) is never touched.
    """
    stale: list[str] = []
    with _registry_lock:
        mine = {lab.prefix for lab in _open_labs}
    for name in list_namespaces():
        m = PREFIX_FAMILY.match(name)
        if m is None:
            continue
        pid = int(m.group(1), 16)
        if pid == os.getpid():
            # ours, unless no open lab of this process has that prefix (an earlier process
            # with the same pid left it behind)
            if name[:name.rindex("-") + 1] in mine:
                continue
        elif _pid_alive(pid):
            continue
        stale.append(name)
    if stale:
        _kill_namespace_processes(stale)
        _delete_namespaces(stale)
    # the device logs of those runs
    for path in Path(tempfile.gettempdir()).glob("cs*-logs"):
        m = LOGDIR_FAMILY.match(path.name)
        if m is None or not path.is_dir() or path.is_symlink():
            continue
        pid = int(m.group(1), 16)
        if pid == os.getpid() and path.name[:-4] in mine:
            continue
        if pid != os.getpid() and _pid_alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
    return stale


# --------------------------------------------------------------------------- in-namespace code

_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def call_in_namespace(ns: str, fn: Callable[[], T], timeout: float | None = 120.0) -> T:
    """Run ``fn()`` in a fresh thread that has entered network namespace ``ns``.

    Sockets created there belong to ``ns`` for their whole life, whichever thread uses them
    later. The caller's own thread never changes namespace.
    """
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=body, name=f"netns-{ns}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"code in namespace {ns} did not finish in {timeout}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def socket_in_namespace(ns: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM,
                        proto: int = 0) -> socket.socket:
    """A socket that lives in network namespace ``ns``."""
    return call_in_namespace(ns, lambda: socket.socket(family, type, proto), timeout=10)


def _child_setup() -> None:  # pragma: no cover - runs in the forked child
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


# --------------------------------------------------------------------------- the lab

@dataclass
class LabDevice:
    """One emulated device of the lab."""

    profile: Profile
    host: int
    ip: str
    ns: str
    port: str  # its veth's name on the switch
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)

    @property
    def profile_id(self) -> str:
        return self.profile.id

    @property
    def mac(self) -> str:
        return self.profile.mac

    @property
    def expect(self) -> Expect:
        return self.profile.expect.for_lab("namespace")

    @property
    def tcp_ports(self) -> tuple[int, ...]:
        return self.profile.ports

    def options(self, proto: str) -> dict[str, Any]:
        """The per-protocol switches beside a discovery capture (unicast, multicast, reply,
        reject_newlines...), read from the profile's YAML."""
        raw = yaml.safe_load(self.profile.path.read_text(encoding="utf-8")) or {}
        disc = raw.get("discovery") if isinstance(raw, dict) else None
        entry = disc.get(proto) if isinstance(disc, dict) else None
        return dict(entry) if isinstance(entry, dict) else {}

    @property
    def speaks(self) -> set[str]:
        """The discovery protocols the device answers (wsd, sadp, dhip, mdns, ssdp, snmp)."""
        d = self.profile.discovery
        return {name for name, on in (("wsd", d.wsd), ("sadp", d.sadp), ("dhip", d.dhip),
                                      ("mdns", d.mdns), ("ssdp", d.ssdp), ("snmp", d.snmp))
                if on is not None}


_instances = 0
_open_labs: list[NamespaceLab] = []
_registry_lock = threading.Lock()
_previous_sigterm: Any = None
_sigterm_installed = False


def _close_all_labs() -> None:
    for lab in list(_open_labs):
        with contextlib.suppress(Exception):
            lab.teardown()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Tear every open lab down (even one whose close() this signal interrupted), then let
    SIGTERM do what it would have done: the previous handler, or terminate."""
    _close_all_labs()
    prev = _previous_sigterm
    if callable(prev):
        prev(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _register(lab: NamespaceLab) -> None:
    global _previous_sigterm, _sigterm_installed
    with _registry_lock:
        _open_labs.append(lab)
        if (not _sigterm_installed and threading.current_thread() is threading.main_thread()):
            prev = signal.getsignal(signal.SIGTERM)
            if prev in (signal.SIG_DFL, None) or callable(prev):
                _previous_sigterm = prev if callable(prev) else None
                signal.signal(signal.SIGTERM, _on_sigterm)
                _sigterm_installed = True


def _unregister(lab: NamespaceLab) -> None:
    global _sigterm_installed
    with _registry_lock:
        if lab in _open_labs:
            _open_labs.remove(lab)
        if (not _open_labs and _sigterm_installed
                and threading.current_thread() is threading.main_thread()):
            signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)
            _sigterm_installed = False


atexit.register(_close_all_labs)


class NamespaceLab:
    """Build with ``with NamespaceLab() as lab:`` (or ``lab.start()`` ... ``lab.close()``).

    ``profiles`` (already loaded) or ``profile_ids`` pick the devices (default: every profile
    in ``profile_dir``, itself by default ``$CAMSCAN_LAB_PROFILE_DIR`` or tests/lab/profiles).
    ``loss``: an nftables ruleset from :mod:`tests.lab.loss` set on the bridge once it is
    built (or later: :meth:`set_loss`).
    """

    def __init__(self, profiles: Sequence[Profile] | None = None, *,
                 profile_ids: Sequence[str] = (), profile_dir: Path | None = None,
                 python: str | None = None, services: bool = True,
                 ready_timeout: float = 60.0, loss: str | None = None) -> None:
        global _instances
        if profile_dir is None:
            profile_dir = Path(os.environ.get("CAMSCAN_LAB_PROFILE_DIR") or PROFILE_DIR)
        if profiles is None:
            profiles = load_profiles(profile_dir, profile_ids)
        if not profiles:
            raise LabError(f"no device profile in {profile_dir}")
        if len(profiles) > 240:
            raise LabError("at most 240 devices fit the lab subnet")
        with _registry_lock:
            n = _instances
            _instances += 1
        self.prefix = f"cs{os.getpid():x}x{n}-"
        self.switch_ns = self.prefix + "sw"
        self.scanner_ns = self.prefix + "sc"
        self.profile_dir = profile_dir
        self.python = python or sys.executable
        self.services = services
        self.ready_timeout = ready_timeout
        self.loss = loss
        self.devices: list[LabDevice] = []
        for i, prof in enumerate(profiles):
            host = FIRST_DEVICE_HOST + i
            self.devices.append(LabDevice(
                profile=prof, host=host, ip=str(SUBNET.network_address + host),
                ns=f"{self.prefix}d{host}", port=f"v{host}"))
        self.scanner_ip = SCANNER_IP
        self.subnet = str(SUBNET)
        self.build_seconds = 0.0
        self.teardown_seconds = 0.0
        self.swept: list[str] = []
        self.host_links_before: set[str] = set()
        self._created: list[str] = []
        self._started = False
        self._closed = False
        self._logdir: Path | None = None

    # ----------------------------------------------------------------- context manager

    def __enter__(self) -> NamespaceLab:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def namespaces(self) -> list[str]:
        return [self.switch_ns, self.scanner_ns, *(d.ns for d in self.devices)]

    def device(self, profile_id: str) -> LabDevice:
        for d in self.devices:
            if d.profile_id == profile_id:
                return d
        raise KeyError(profile_id)

    def by_ip(self) -> dict[str, LabDevice]:
        return {d.ip: d for d in self.devices}

    # ----------------------------------------------------------------- build

    def start(self) -> NamespaceLab:
        if self._started:
            return self
        reason = unavailable_reason()
        if reason:
            raise LabError(reason)
        self._started = True
        _register(self)
        t0 = time.monotonic()
        try:
            self.swept = sweep_stale()
            self._logdir = Path(tempfile.gettempdir()) / f"{self.prefix}logs"
            if self._logdir.is_symlink():
                raise LabError(f"{self._logdir} is a symlink")
            shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir.mkdir(mode=0o700)
            self._build_network()
            if self.loss is not None:
                self.set_loss(self.loss)
            if self.services:
                self._start_devices()
        except BaseException:
            self.close()
            raise
        self.build_seconds = time.monotonic() - t0
        return self

    def _build_network(self) -> None:
        names = self.namespaces
        # Record first: a failure half-way must still delete what exists.
        self._created = list(names)
        _ip(["-batch", "-"], stdin="".join(f"netns add {n}\n" for n in names))
        sw, sc = self.switch_ns, self.scanner_ns
        links = [f"link add vsc netns {sw} type veth peer name eth0 netns {sc}\n"]
        links += [f"link add {d.port} netns {sw} type veth peer name eth0 netns {d.ns}\n"
                  for d in self.devices]
        _ip(["-batch", "-"], stdin="".join(links))
        switch = ["link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
                  "link set br0 up", "link set lo up", "link set vsc master br0",
                  "link set vsc up"]
        for d in self.devices:
            switch += [f"link set {d.port} master br0", f"link set {d.port} up"]
        jobs: list[tuple[str, list[str]]] = [(sw, switch), (sc, [
            "link set lo up", f"addr add {self.scanner_ip}/24 dev eth0", "link set eth0 up",
            # On-link multicast only (WS-Discovery, SADP, DHIP, mDNS need a route to the
            # group); there is no default route, so nothing can leave the lab.
            "route add 224.0.0.0/4 dev eth0",
        ])]
        for d in self.devices:
            jobs.append((d.ns, [
                "link set lo up", f"link set eth0 address {d.mac}",
                f"addr add {d.ip}/24 dev eth0", "link set eth0 up",
                "route add 224.0.0.0/4 dev eth0",
            ]))

        def configure(job: tuple[str, list[str]]) -> None:
            ns, cmds = job
            _ip(["-n", ns, "-batch", "-"], stdin="".join(c + "\n" for c in cmds))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(configure, jobs))

    def _device_commands(self, d: LabDevice) -> list[tuple[str, list[str]]]:
        """One process per device: its TCP services (the loopback lab's emulator, hosted in
        the same event loop) and its discovery responders."""
        if not (d.tcp_ports or d.speaks):
            return []
        commands = [("device", [
            self.python, "-m", "tests.lab.responders", "--profile-dir", str(self.profile_dir),
            "--profile", d.profile_id, "--ip", d.ip, "--mac", d.mac, "--services"])]
        if d.profile.discovery.snmp is not None:  # a real agent: net-snmp's snmpd
            commands.append(("snmpd", [
                self.python, "-m", "tests.lab.snmpd", "--profile-dir", str(self.profile_dir),
                "--profile", d.profile_id, "--ip", d.ip]))
        return commands

    def _start_devices(self) -> None:
        assert self._logdir is not None
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        # device processes keep their temporary files (TLS keys) in the lab's own folder, so
        # teardown removes them even when a device had to be killed
        env["TMPDIR"] = str(self._logdir)
        pending: list[tuple[LabDevice, subprocess.Popen[bytes], Path, str]] = []
        for d in self.devices:
            for role, argv in self._device_commands(d):
                log = self._logdir / f"{d.host}-{role}.log"
                with open(log, "wb") as fh:
                    proc = subprocess.Popen(
                        ["ip", "netns", "exec", d.ns, *argv], stdin=subprocess.DEVNULL,
                        stdout=fh, stderr=subprocess.STDOUT, cwd=str(REPO), env=env,
                        start_new_session=True, preexec_fn=_child_setup)
                d.procs.append(proc)
                d.logs.append(log)
                pending.append((d, proc, log, role))
        deadline = time.monotonic() + self.ready_timeout
        while pending:
            still: list[tuple[LabDevice, subprocess.Popen[bytes], Path, str]] = []
            for d, proc, log, role in pending:
                text = log.read_text(encoding="utf-8", errors="replace")
                line = next((ln for ln in text.splitlines() if ln.startswith("READY")), None)
                if line is not None:
                    d.ready.append(f"{role}: {line}")
                elif proc.poll() is not None:
                    raise LabError(f"{d.profile_id} {role} exited {proc.returncode} before "
                                   f"READY:\n{text[-2000:]}")
                else:
                    still.append((d, proc, log, role))
            pending = still
            if pending and time.monotonic() > deadline:
                who = ", ".join(f"{d.profile_id}/{role}" for d, _, _, role in pending)
                raise LabError(f"not READY after {self.ready_timeout}s: {who}")
            if pending:
                time.sleep(0.02)

    # ----------------------------------------------------------------- teardown

    def close(self) -> None:
        """Stop every lab process and delete every lab namespace. Safe to call again."""
        if self._started and not self._closed:
            self.teardown()
        self._closed = True

    def teardown(self) -> None:
        """The work of :meth:`close`, safe to run again at any point (even when an earlier
        run was interrupted half-way): every step skips what is already gone."""
        if not self._started:
            return
        self._closed = True
        t0 = time.monotonic()
        try:
            procs = [p for d in self.devices for p in d.procs if p.poll() is None]
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 3.0
            for p in procs:
                try:
                    p.wait(timeout=max(0.01, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        p.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(timeout=2)
            existing = [n for n in self._created if n in set(list_namespaces())]
            _kill_namespace_processes(existing)
            _delete_namespaces(existing)
        finally:
            if self._logdir is not None and not os.environ.get("CAMSCAN_LAB_KEEP_LOGS"):
                shutil.rmtree(self._logdir, ignore_errors=True)
            self.teardown_seconds = time.monotonic() - t0
        # Only once everything is gone: an interrupted teardown stays registered, so
        # atexit or the SIGTERM handler finish it.
        _unregister(self)

    def log_text(self) -> str:
        """Every device process's output so far (for failure messages)."""
        parts = []
        for d in self.devices:
            for log in d.logs:
                with contextlib.suppress(OSError):
                    parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    # ----------------------------------------------------------------- using the lab

    def _check_open(self) -> None:
        if not self._started or self._closed:
            raise LabError("the lab is not running")

    def run_in(self, ns: str, cmd: Sequence[str], *, timeout: float = 120.0,
               check: bool = False, input: str | None = None,
               env: dict[str, str] | None = None,
               capture: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside namespace ``ns`` (one of this lab's); its output is captured
        (or, with ``capture=False``, goes to this process's stdout/stderr)."""
        self._check_open()
        if ns not in self.namespaces:
            raise ValueError(f"{ns} is not a namespace of this lab")
        full_env = dict(os.environ if env is None else env)
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else [])])
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], input=input,
                              capture_output=capture, text=True, timeout=timeout, check=check,
                              cwd=str(REPO), env=full_env)

    def run_in_scanner(self, cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` inside the scanner namespace (no route out)."""
        return self.run_in(self.scanner_ns, cmd, **kw)

    async def arun_in_scanner(self, cmd: Sequence[str],
                              timeout: float = 120.0) -> tuple[int, str, str]:
        """Async ``run_in_scanner``: (exit code, stdout, stderr)."""
        self._check_open()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.scanner_ns, *cmd, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(REPO), env=env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    def scan(self, *args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        """``camscan scan <args>`` inside the scanner namespace."""
        return self.run_in_scanner([self.python, "-m", "camscan", "scan", *args],
                                   timeout=timeout)

    def call_in_scanner(self, fn: Callable[[], T], timeout: float | None = 120.0) -> T:
        """Run Python ``fn()`` in a thread inside the scanner namespace and return its value."""
        self._check_open()
        return call_in_namespace(self.scanner_ns, fn, timeout)

    def scanner_socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM,
                       proto: int = 0) -> socket.socket:
        """A socket living in the scanner namespace (usable from any thread)."""
        self._check_open()
        return socket_in_namespace(self.scanner_ns, family, type, proto)

    def set_loss(self, ruleset: str | None) -> None:
        """Packet loss on the bridge (a :mod:`tests.lab.loss` ruleset); None: no loss."""
        self._check_open()
        if ruleset is None:
            lab_loss.clear(self.switch_ns)
        else:
            lab_loss.apply(self.switch_ns, ruleset)

    def dropped(self) -> int:
        """Frames the bridge's loss rules dropped so far."""
        return lab_loss.dropped(self.switch_ns)

    def links(self, ns: str) -> list[dict[str, Any]]:
        """``ip -j link`` of one lab namespace."""
        proc = _ip(["-n", ns, "-j", "link"])
        data = json.loads(proc.stdout or "[]")
        return data if isinstance(data, list) else []

    def routes(self, ns: str) -> list[dict[str, Any]]:
        proc = _ip(["-n", ns, "-j", "-4", "route", "show", "table", "all"])
        data = json.loads(proc.stdout or "[]")
        return data if isinstance(data, list) else []


@contextlib.contextmanager
def tcpdump(ns: str, iface: str, path: Path, *, snaplen: int = 0,
            extra: Sequence[str] = (), settle: float = 0.3) -> Iterator[Path]:
    """tcpdump on ``iface`` of namespace ``ns``, writing ``path`` while the block runs (it
    has started listening when the block begins; ``settle`` seconds of late frames are kept
    after it ends). ``extra``: more tcpdump arguments (``-Q out``, a filter)."""
    proc = subprocess.Popen(
        # -B: a 16 MiB kernel buffer, so a loaded machine does not drop frames of the capture
        ["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "--immediate-mode",
         "-B", "16384", "-s", str(snaplen), "-w", str(path), *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode(errors="replace")
        assert f"listening on {iface}" in first, f"tcpdump did not start: {first!r}"
        yield path
        time.sleep(settle)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def emulator_available() -> bool:
    return (REPO / "tests" / "lab" / "emulator.py").is_file()


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.lab.netns [sweep|up]``: sweep stale labs, or build one and wait."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sweep"]:
        gone = sweep_stale()
        print(f"removed {len(gone)} stale namespace(s)" + (": " + " ".join(gone) if gone else ""))
        return 0
    if args[:1] == ["up"]:
        with NamespaceLab(profile_ids=args[1:]) as lab:
            print(f"lab {lab.prefix}: {len(lab.devices)} devices in {lab.build_seconds:.2f}s; "
                  f"scanner namespace {lab.scanner_ns}")
            for d in lab.devices:
                print(f"  {d.ip:<14} {d.mac}  {d.profile_id}")
            print("Ctrl-C to tear down")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
        return 0
    print("usage: python -m tests.lab.netns sweep | up [PROFILE_ID...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

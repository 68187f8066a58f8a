"""UDP plumbing shared by the discovery probes (WS-Discovery, mDNS, SADP, DHIP).

Two shapes:

* :func:`multicast_socket` + :func:`collect`: one socket on the chosen interface that sends a
  datagram to a multicast group and hears both unicast answers (to its own port) and
  answers multicast to the group (when bound to the group's port); the whole send/listen
  round is :func:`camscan.net.multicast.multicast_round`.
* :func:`unicast_exchange`: one datagram to one host from an ephemeral port, then the
  answers from that host for a short while. The socket asks for ICMP errors
  (``IP_RECVERR``): Linux reports none to an unconnected UDP socket otherwise, so a host
  with nothing on the port (ICMP port unreachable) is told apart from one that stays silent
  at once, instead of after the whole wait.

Every read is bounded (``MAX_DATAGRAM``), every wait has a deadline, and the socket is
always closed. Nothing here decides where packets may go: callers hold the scope and permits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import Callable

__all__ = [
    "IP_MULTICAST_ALL", "IP_RECVERR", "MAX_DATAGRAM", "MAX_REASONS", "MAX_REJECTED_SOURCES",
    "Datagram", "Rejections", "collect", "multicast_socket", "send", "unicast_exchange",
]

MAX_DATAGRAM = 65_535
# Linux: deliver to this socket only the groups it joined itself (not every group any socket
# on the host joined).
IP_MULTICAST_ALL = 49
# Linux: report ICMP errors (port unreachable: ECONNREFUSED) to an unconnected UDP socket.
# Connecting it would do the same but drop answers sent from another port (SSDP's are).
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)

Datagram = tuple[bytes, str, int]  # data, source ip, source port


def _ifindex(interface: str | None) -> int:
    if not interface:
        return 0
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        return 0


def multicast_socket(
    source_ip: str | None,
    group: str,
    *,
    bind_port: int = 0,
    interface: str | None = None,
    join: bool = False,
) -> socket.socket:
    """A non-blocking UDP socket that sends to ``group`` through the interface of ``source_ip``.

    With ``join`` the socket is bound to ``bind_port`` on all addresses (so it also hears
    answers sent to the group) and joins ``group`` on that interface only; otherwise it is
    bound to ``source_ip`` (an ephemeral port unless ``bind_port``). TTL 1: never routed.
    """
    if join and not ipaddress.IPv4Address(group).is_multicast:
        join, bind_port = False, 0  # a unicast "group" (tests): plain socket, ephemeral port
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if interface and hasattr(socket, "SO_BINDTODEVICE"):
            # Kernel >= 5.7 lets unprivileged sockets bind to a device; older ones need
            # CAP_NET_RAW. Without it IP_MULTICAST_IF still picks the interface for sending.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                                interface.encode()[:15])
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        local = socket.inet_aton(source_ip) if source_ip else socket.inet_aton("0.0.0.0")
        ifindex = _ifindex(interface)
        # struct ip_mreqn (group, address, ifindex) names the interface even when the address
        # is ambiguous; plain in_addr otherwise
        if ifindex:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            struct.pack("4s4si", b"\0" * 4, local, ifindex))
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, local)
        if join:
            sock.bind(("0.0.0.0", bind_port))
            if ifindex:
                mreq = struct.pack("4s4si", socket.inet_aton(group), local, ifindex)
            else:
                mreq = struct.pack("4s4s", socket.inet_aton(group), local)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            sock.bind((source_ip or "0.0.0.0", bind_port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def collect(
    sock: socket.socket,
    window: float,
    on_datagram: Callable[[bytes, str, int], None],
    *,
    max_datagrams: int = 4096,
    settle: float | None = None,
    quiet: float | None = None,
) -> int:
    """Hand every datagram the socket receives within ``window`` seconds to ``on_datagram``;
    with ``settle`` and ``quiet``, stop sooner: once ``settle`` seconds have passed and
    nothing has arrived for ``quiet`` seconds (see :func:`listen_until`).

    Returns how many were received. ``on_datagram`` must not raise (parsers never do).
    """
    loop = asyncio.get_running_loop()
    start = last = loop.time()
    count = 0
    while count < max_datagrams:
        now = loop.time()
        left = listen_until(start, last, window, settle, quiet) - now
        if left <= 0:
            break
        try:
            data, addr = await asyncio.wait_for(loop.sock_recvfrom(sock, MAX_DATAGRAM), left)
        except TimeoutError:
            continue  # the end is due (or a datagram moved it): the loop decides
        except OSError:
            # ICMP errors surface as ECONNREFUSED on some kernels: keep listening
            await asyncio.sleep(min(0.05, max(left, 0.0)))
            continue
        count += 1
        last = loop.time()
        on_datagram(bytes(data), str(addr[0]), int(addr[1]))
    return count


def listen_until(start: float, last: float, window: float, settle: float | None,
                 quiet: float | None) -> float:
    """When a listen that began at ``start`` and last heard a datagram at ``last`` (``start``
    if none) ends: at ``start + window`` at the latest; with ``settle`` and ``quiet``, as soon
    as ``settle`` seconds have passed and ``quiet`` went by with nothing heard."""
    deadline = start + max(window, 0.0)
    if settle is None or quiet is None:
        return deadline
    return min(deadline, max(start + settle, last + quiet))


async def send(sock: socket.socket, payload: bytes, addr: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()
    await loop.sock_sendto(sock, payload, addr)


async def unicast_exchange(
    ip: str,
    port: int,
    payload: bytes,
    wait: float,
    *,
    max_datagrams: int = 16,
    stop: Callable[[list[Datagram]], bool] | None = None,
    linger: float | None = None,
) -> list[Datagram]:
    """Send ``payload`` to ``ip:port`` from an ephemeral port; return what ``ip`` answered.

    Datagrams from any other address are ignored. Listening ends after ``wait`` seconds,
    after ``max_datagrams`` answers, as soon as ``stop(answers)`` is true, or ``linger``
    seconds after the first answer (for peers that split one answer over datagrams).

    Raises :class:`ConnectionRefusedError` when ``ip`` answers the datagram with ICMP port
    unreachable before any answer (nothing listens on the port), and the other ``OSError``
    of an ICMP error (host or network unreachable) the same way.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    answers: list[Datagram] = []
    try:
        sock.setblocking(False)
        with contextlib.suppress(OSError):  # not Linux: refusals are not reported, only slower
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        sock.bind(("0.0.0.0", 0))
        await loop.sock_sendto(sock, payload, (ip, port))
        deadline = loop.time() + max(wait, 0.0)
        while len(answers) < max_datagrams:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                data, addr = await asyncio.wait_for(
                    loop.sock_recvfrom(sock, MAX_DATAGRAM), left)
            except TimeoutError:
                break
            except OSError:
                # an ICMP error for the datagram (port unreachable: nothing listens there)
                if not answers:
                    raise
                break
            if str(addr[0]) != ip:
                continue
            answers.append((bytes(data), str(addr[0]), int(addr[1])))
            if linger is not None and len(answers) == 1:
                deadline = min(deadline, loop.time() + linger)
            if stop is not None and stop(answers):
                break
    finally:
        sock.close()
    return answers


MAX_REJECTED_SOURCES = 256
MAX_REASONS = 3


class Rejections:
    """Answers a discovery probe heard but could not use, per source address: how many, and
    the first few distinct reasons. Bounded (sources, reasons, reason length). Probes turn
    each source into an ``error`` outcome, so a device that answers only with garbage is
    reported with why instead of being dropped in silence."""

    def __init__(self) -> None:
        self._by_source: dict[str, tuple[list[int], list[str]]] = {}

    def add(self, source: str, reason: Callable[[], str | None]) -> None:
        """Count one unusable answer from ``source``; ``reason()`` (a pure parser call that
        never raises) says why, or None when the datagram is not an answer at all (another
        client's request): then it is not counted."""
        entry = self._by_source.get(source)
        if entry is not None and len(entry[1]) >= MAX_REASONS:
            entry[0][0] += 1  # enough reasons kept: do not parse again
            return
        why = reason()
        if why is None:
            return
        if entry is None:
            if len(self._by_source) >= MAX_REJECTED_SOURCES:
                return
            entry = ([0], [])
            self._by_source[source] = entry
        entry[0][0] += 1
        why = why[:200]
        if why not in entry[1]:
            entry[1].append(why)

    def __contains__(self, source: object) -> bool:
        return source in self._by_source

    def summaries(self) -> dict[str, str]:
        """source -> ``"<n> answer(s) rejected: <reason>[; <reason>...]"``."""
        return {src: f"{count[0]} answer(s) rejected: " + "; ".join(reasons)
                for src, (count, reasons) in self._by_source.items()}

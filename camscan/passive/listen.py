"""Frames from a live interface, received only: an ``AF_PACKET`` raw socket opened with
``ETH_P_ALL`` (every protocol), bound to the interface, read until a deadline. Nothing is ever
written to the socket (there is no send call in this module; a test captures the
interface's outgoing traffic while ``camscan listen`` runs and finds none).

Frames the host itself sends (``PACKET_OUTGOING``) are skipped: they are the sensor's own.
Linux only, and needs CAP_NET_RAW (root).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
MAX_FRAME = 65_535 + 64
POLL = 0.25  # seconds between checks of the deadline and the stop flag


@dataclass
class ListenStats:
    frames: int = 0
    bytes: int = 0
    skipped: int = 0  # outgoing frames or other link types


def open_socket(interface: str) -> socket.socket:
    """A receive-only raw socket on ``interface`` (OSError when it cannot be opened)."""
    if not hasattr(socket, "AF_PACKET"):
        raise OSError("listening needs Linux (AF_PACKET sockets)")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.bind((interface, ETH_P_ALL))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def listen(interface: str, duration: float, on_frame: Callable[[bytes], None], *,
           should_stop: Callable[[], bool] = lambda: False,
           sock: socket.socket | None = None) -> ListenStats:
    """Hand every Ethernet frame heard on ``interface`` to ``on_frame`` for ``duration``
    seconds (or until ``should_stop()``); KeyboardInterrupt ends it too (re-raised after the
    socket is closed, the frames so far already handed on)."""
    stats = ListenStats()
    own = sock is None
    s = open_socket(interface) if sock is None else sock
    deadline = time.monotonic() + duration
    try:
        while not should_stop():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([s], [], [], min(POLL, left))
            if not ready:
                continue
            for _ in range(256):  # drain what is queued, then look at the clock again
                try:
                    data, addr = s.recvfrom(MAX_FRAME)
                except BlockingIOError:
                    break
                pkttype, hatype = addr[2], addr[3]
                if pkttype == PACKET_OUTGOING or hatype not in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
                    stats.skipped += 1
                    continue
                stats.frames += 1
                stats.bytes += len(data)
                on_frame(data)
    finally:
        if own:
            s.close()
    return stats

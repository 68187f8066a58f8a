"""One multicast discovery round: send a datagram to a group, listen for the discovery window,
and sort what was heard into usable answers, SOAP-style faults and rejected datagrams.

Every discovery probe that multicasts (WS-Discovery, SADP, DHIP) is this round plus its own
parser (a :data:`Judge`); the probe turns the :class:`Heard` into results
(:func:`camscan.probes.base.discover`, via
:meth:`camscan.probes.base.SegmentContext.discovery_round`).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from camscan.models import Observation
from camscan.net.udp import Rejections, collect, multicast_socket, send

__all__ = ["Answer", "Heard", "Judge", "multicast_round"]


@dataclass(frozen=True)
class Answer:
    """What a probe's parser makes of one datagram from ``src``: observation ``rows`` filed
    under ``ip`` (the device the answer is about), or a ``fault`` the device sent, or a
    ``reject`` callable saying why the datagram is unusable (None from it: not an answer at
    all, e.g. another client's request; not counted)."""

    ip: str = ""
    rows: Sequence[Observation] = ()
    fault: str | None = None
    reject: Callable[[], str | None] | None = None


Judge = Callable[[bytes, str], Answer]


@dataclass
class Heard:
    """Everything one round heard: rows per device (de-duplicated, in order), the first fault
    per source, and the bounded rejections per source."""

    answers: dict[str, list[Observation]] = field(default_factory=dict)
    faults: dict[str, str] = field(default_factory=dict)
    rejected: Rejections = field(default_factory=Rejections)

    def take(self, data: bytes, src: str, judge: Judge) -> None:
        answer = judge(data, src)
        if answer.rows:
            bucket = self.answers.setdefault(answer.ip or src, [])
            bucket.extend(r for r in answer.rows if r not in bucket)
        elif answer.fault:
            self.faults.setdefault(src, answer.fault)
        elif answer.reject is not None:
            # filed under the packet's source: nothing in a refused answer is believed
            self.rejected.add(src, answer.reject)


async def multicast_round(
    payload: bytes,
    group: str,
    port: int,
    on_datagram: Callable[[bytes, str, int], None],
    *,
    source_ip: str | None,
    interface: str | None,
    window: float,
    budget: Callable[[], Awaitable[None]],
    sends: int = 2,
    bind_group_port: bool = False,
    settle: float | None = None,
    quiet: float | None = None,
) -> None:
    """Send ``payload`` to ``group:port`` ``sends`` times (UDP loss; each send waits for
    ``budget()``, the sweep's packet budget) and hand every answer heard within ``window``
    seconds of the last send to ``on_datagram``. With ``settle`` and ``quiet`` the round ends
    sooner once answers stop: ``settle`` seconds after the last send and ``quiet`` seconds
    after the last datagram (:func:`camscan.net.udp.listen_until`). With ``bind_group_port``
    the socket is bound to the group's port and joined to the group, so answers multicast back
    to the group are heard too (SADP, DHIP); if that port is taken, answers to our own port
    still arrive. Raises OSError."""
    sock: socket.socket | None = None
    if bind_group_port:
        with contextlib.suppress(OSError):
            sock = multicast_socket(source_ip, group, bind_port=port, join=True,
                                    interface=interface)
    if sock is None:
        sock = multicast_socket(source_ip, group, interface=interface)
    try:
        for i in range(sends):
            await budget()
            await send(sock, payload, (group, port))
            if i + 1 < sends:
                await collect(sock, min(0.25, window / 4), on_datagram)
        await collect(sock, window, on_datagram, settle=settle, quiet=quiet)
    finally:
        sock.close()

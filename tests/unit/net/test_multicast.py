"""The one multicast discovery round: sorting what was heard (camscan.net.multicast)."""

from __future__ import annotations

import asyncio

from camscan.models import Observation
from camscan.net.multicast import Answer, Heard


def _row(ip: str, value: str) -> Observation:
    return Observation(ip=ip, probe="x", key="x.model", value=value)


def judge(data: bytes, src: str) -> Answer:
    if data.startswith(b"ok"):
        # filed under the device the answer names (SADP/DHIP carry the device's own IPv4)
        return Answer(ip=data[3:].decode() or src, rows=[_row(src, "m")])
    if data.startswith(b"fault"):
        return Answer(fault="MatchingRuleNotSupported")
    if data.startswith(b"probe"):
        return Answer(reject=lambda: None)  # another client's request: not counted
    return Answer(reject=lambda: "garbage")


def test_heard_sorts_answers_faults_and_rejections() -> None:
    heard = Heard()
    for data, src in ((b"ok ", "10.0.0.1"), (b"ok ", "10.0.0.1"), (b"ok 10.0.0.9", "10.0.0.2"),
                      (b"fault", "10.0.0.3"), (b"fault", "10.0.0.3"), (b"zz", "10.0.0.4"),
                      (b"zz", "10.0.0.4"), (b"probe", "10.0.0.5")):
        heard.take(data, src, judge)
    assert list(heard.answers) == ["10.0.0.1", "10.0.0.9"]
    assert heard.answers["10.0.0.1"] == [_row("10.0.0.1", "m")]  # duplicates dropped
    assert heard.faults == {"10.0.0.3": "MatchingRuleNotSupported"}
    assert heard.rejected.summaries() == {"10.0.0.4": "2 answer(s) rejected: garbage"}
    assert "10.0.0.5" not in heard.rejected


# --------------------------------------------------------------- ending once answers stop

def test_listen_until_ends_after_settle_and_quiet_within_the_window() -> None:
    from camscan.net.udp import listen_until

    # answers stopped at 0.3 s: over at the settle time, not the 3 s window
    assert listen_until(0.0, 0.3, 3.0, 1.0, 0.5) == 1.0
    assert listen_until(0.0, 0.0, 3.0, 1.0, 0.5) == 1.0  # nothing heard at all
    assert listen_until(0.0, 0.9, 3.0, 1.0, 0.5) == 1.4  # a late answer: quiet after it
    assert listen_until(0.0, 2.9, 3.0, 1.0, 0.5) == 3.0  # a trickle: the window caps it
    assert listen_until(5.0, 5.0, 3.0, None, None) == 8.0  # the whole window, as before


class _Trickle:
    """A loopback UDP 'device' that answers the first request it gets ``count`` times, one
    answer every ``every`` seconds."""

    def __init__(self, count: int, every: float) -> None:
        self.count, self.every = count, every
        self.sent = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]

    def answer(self, addr: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        for i in range(self.count):
            loop.call_later(i * self.every, self._send, addr)

    def _send(self, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(b"ok ", addr)
            self.sent += 1


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: _Trickle) -> None:
        self.owner, self.asked = owner, False

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.asked:
            self.asked = True
            self.owner.answer(addr)


async def _round(device: _Trickle, *, window: float, settle: float, quiet: float
                 ) -> tuple[int, float]:
    from camscan.net.multicast import multicast_round

    got: list[bytes] = []

    async def budget() -> None:
        return None

    await device.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await multicast_round(b"probe?", "127.0.0.1", device.port,
                              lambda data, _s, _p: got.append(data), source_ip="127.0.0.1",
                              interface=None, window=window, budget=budget, sends=1,
                              settle=settle, quiet=quiet)
    finally:
        assert device.transport is not None
        device.transport.close()
    return len(got), loop.time() - started


async def test_a_round_whose_answers_stop_ends_well_before_the_window() -> None:
    device = _Trickle(count=4, every=0.1)  # answers at 0, 0.1, 0.2, 0.3 s
    heard, took = await _round(device, window=6.0, settle=0.6, quiet=0.3)
    assert heard == 4
    assert took < 6.0 / 2  # bound only: it ended at about the settle time, not the window


async def test_a_trickle_of_answers_keeps_the_round_open_up_to_the_window() -> None:
    device = _Trickle(count=200, every=0.05)  # answers for 10 s, far apart less than quiet
    heard, took = await _round(device, window=1.5, settle=0.2, quiet=1.0)
    assert took >= 1.5  # never quiet for 1 s: the window, not the settle time, ended it
    assert heard < 200  # and the window did end it

"""The one multicast discovery round: sorting what was heard (camscan.net.multicast)."""

from __future__ import annotations

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

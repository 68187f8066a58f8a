"""Fuzz the pure parsers of camscan/probes/http.py (device HTTP replies).

Covered: ``parse_raw_response`` (with ``_dechunk`` behind ``Transfer-Encoding: chunked``),
``decode_text``, ``decode_body``, ``parse_title`` (bytes and str), ``parse_realms``,
``cookie_names``, ``header_values``, ``header_block``, ``redirect_target``,
``favicon_hashes``, ``looks_like_tls`` (reads the text of h11's error, which quotes device
bytes), ``reply_observations`` and ``chain_observations`` (every observation of a reply).
"""

from __future__ import annotations

import gzip
import zlib

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from camscan.net import http as net_http
from camscan.probes import http
from camscan.wire import auth
from camscan.wire import http as http_wire
from tests.fuzz._support import (
    captures,
    counted,
    fuzz_settings,
    hostile_head,
    mutated,
    raw_or_mutated,
)

SEEDS = captures("http")
RESPONSES = st.one_of(raw_or_mutated(SEEDS), hostile_head(b"HTTP/1.1 401 Unauthorized"),
                      hostile_head(b"HTTP/1.0 200 OK"), hostile_head(b"HTTP/1.1 302 Found"))
TEXT = st.one_of(st.text(max_size=2048), mutated(SEEDS).map(lambda b: b.decode("latin-1")))


def _check_reply(reply: http_wire.Reply) -> None:
    assert 0 <= reply.status <= 999  # any three digits are a status (HTTP/0.0 000 too)
    assert len(reply.body) <= http_wire.MAX_BODY
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in reply.headers)
    assert len(http_wire.header_block(reply)) <= http_wire.MAX_HEADER_BLOCK
    obs = http.chain_observations("192.0.2.1", 80, [reply])
    obs += http.reply_observations("192.0.2.1", 80, reply, "http.isapi")
    assert all(isinstance(o.value, str) for o in obs)
    for o in obs:
        if o.key == "http.title":
            assert 0 < len(o.value) <= 512
        if o.key == "http.headers":
            assert len(o.value) <= http_wire.MAX_HEADER_BLOCK


@fuzz_settings(big_inputs=True)
@given(RESPONSES)
@example(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nabc")
@example(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nx")
@example(b"HTTP/0.0 000")  # found by the 5000-example run: status 0 is accepted
@example(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b\x08\x00")
@counted
def test_parse_raw_response(data: bytes) -> None:
    reply = http_wire.parse_raw_response(data, "http://192.0.2.1/")
    if reply is not None:
        _check_reply(reply)


@fuzz_settings()
@given(st.sampled_from(SEEDS), st.sampled_from(("gzip", "deflate", "x-gzip", "br", "")),
       st.binary(max_size=4096), st.integers(0, 4096))
@counted
def test_decode_body(seed: bytes, coding: str, noise: bytes, cut: int) -> None:
    packed = {"gzip": gzip.compress(seed), "x-gzip": gzip.compress(seed),
              "deflate": zlib.compress(seed)}.get(coding, seed)
    for data in (packed[:cut], packed + noise, noise, packed):
        out = http_wire.decode_body(data, coding)
        assert isinstance(out, bytes) and len(out) <= max(http_wire.MAX_BODY, len(data))


@fuzz_settings()
@given(st.integers(1, 50))
@counted
def test_decode_body_bomb_is_capped(megabytes: int) -> None:
    bomb = gzip.compress(b"\x00" * (megabytes * 100_000))
    assert len(http_wire.decode_body(bomb, "gzip")) <= http_wire.MAX_BODY


@fuzz_settings()
@given(st.binary(max_size=4096) | mutated(SEEDS))
@counted
def test_decode_text(data: bytes) -> None:
    assert isinstance(http_wire.decode_text(data), str)


@fuzz_settings()
@given(st.one_of(raw_or_mutated(SEEDS), st.binary(max_size=512).map(
    lambda b: b"<TITLE" + b + b">" + b + b"</title"),
    st.integers(0, 200_000).map(lambda n: b"<title>" + b"&amp;" * n + b"</title>")))
@counted
def test_parse_title(data: bytes) -> None:
    for value in (data, data.decode("latin-1")):
        title = http_wire.parse_title(value)
        assert title is None or (0 < len(title) <= 512 and title == title.strip())


@fuzz_settings()
@given(st.one_of(TEXT, st.text(alphabet='realm=" \\,\t', max_size=4096),
                 st.integers(0, 20_000).map(lambda n: 'realm="' + "\\" * n)))
@example('Digest realm="a\\"b", qop="auth"')
@counted
def test_parse_realms(value: str) -> None:
    realms = auth.parse_realms(value)
    assert all(isinstance(r, str) and len(r) <= 1024 for r in realms)
    assert len(realms) == len(set(realms))


@fuzz_settings()
@given(st.lists(st.tuples(st.sampled_from(("Set-Cookie", "set-cookie", "X")) | st.text(
    max_size=16), TEXT), max_size=40))
@counted
def test_cookie_names_and_header_values(headers: list[tuple[str, str]]) -> None:
    names = http_wire.cookie_names(headers)
    assert all(1 <= len(n) <= 128 and ";" not in n and "=" not in n for n in names)
    assert len(names) == len(set(names))
    assert len(http_wire.header_values(headers, "set-cookie")) <= len(headers)
    reply = http_wire.Reply(url="", status=200, reason="OK", http_version="HTTP/1.1",
                       headers=headers)
    assert len(http_wire.header_block(reply)) <= http_wire.MAX_HEADER_BLOCK


@fuzz_settings()
@given(st.one_of(TEXT, st.sampled_from((
    "//192.0.2.1:80/x", "http://user:pw@192.0.2.1/", "http://[::1", "javascript:alert(1)",
    "http://192.0.2.1:99999/", "\x00http://192.0.2.1/", "https://192.0.2.1/", "/doc/page/login.asp",
    "http://192.0.2.1:0/", "http://192.0.2.1:-1/", "%", "http://%zz/"))),
       st.sampled_from(("http://192.0.2.1:80/", "https://192.0.2.1:443/a/b")))
@counted
def test_redirect_target(location: str, base: str) -> None:
    port = 443 if base.startswith("https") else 80
    target = http_wire.redirect_target(base, location, "192.0.2.1", port)
    if target is not None:
        url = httpx.URL(target)
        assert url.host == "192.0.2.1" and url.scheme in ("http", "https")
        assert not url.userinfo
        assert (url.port or (443 if url.scheme == "https" else 80)) == port


@fuzz_settings()
@given(st.binary(max_size=8192))
@counted
def test_favicon_hashes(data: bytes) -> None:
    shodan, md5 = http_wire.favicon_hashes(data)
    assert -(2**31) <= shodan < 2**31 and len(md5) == 32


@fuzz_settings()
@given(TEXT)
@counted
def test_looks_like_tls(text: str) -> None:
    assert isinstance(net_http.looks_like_tls(httpx.RemoteProtocolError(text)), bool)

"""HTTP probe: pure parsers on captures, and run() against loopback servers."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import time

import h11
import httpx
import mmh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.models import Observation, Status
from camscan.net import http as net_http
from camscan.probes import http
from camscan.probes.registry import http_paths
from camscan.wire import auth
from camscan.wire import http as http_wire
from camscan.wire.http import Reply
from tests.unit.probes._http_servers import (
    HIKVISION_SUBJECT,
    LoopbackServer,
    capture,
    make_ctx,
    simple,
    tls10_only_server_context,
)

# the vendor paths, in order (fingerprints/requests/http-paths.yaml)
ISAPI_PATH, DAHUA_PATH = (p.path for p in http_paths())

IP = "127.0.0.1"


def h11_reply(data: bytes, url: str = "http://192.0.2.10/") -> Reply:
    """Split a captured raw response with h11, the parser httpx uses on the wire."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "192.0.2.10")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    event = conn.next_event()
    assert isinstance(event, h11.Response)
    body = b""
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Data):
            body += ev.data
        else:
            break
    return Reply(url=url, status=event.status_code, reason=event.reason.decode("latin-1"),
                 http_version="HTTP/" + event.http_version.decode(),
                 headers=[(k.decode("latin-1"), v.decode("latin-1"))
                          for k, v in event.headers.raw_items()],
                 body=body)


def values(obs: list[Observation], key: str) -> list[str]:
    return [o.value for o in obs if o.key == key]


# --------------------------------------------------------------------------------------------
# Pure parsers


def test_parse_title() -> None:
    assert http_wire.parse_title(h11_reply(capture("http/dahua_root.http")).body) == "WEB SERVICE"
    assert http_wire.parse_title("<TITLE lang=en>\n  Network  &amp; Camera\n</TITLE>") == \
        "Network & Camera"
    assert http_wire.parse_title("<title></title>") is None
    assert http_wire.parse_title("<html>no title</html>") is None
    assert http_wire.parse_title("<title>" + "x" * 5000) is None
    assert http_wire.parse_title(b"\xff\xfe<title>\xe9t\xe9</title>") == "\u00e9t\u00e9"


def test_parse_realms() -> None:
    assert auth.parse_realms('Digest qop="auth", realm="IP Camera(C2183)", nonce="abc"') == \
        ["IP Camera(C2183)"]
    assert auth.parse_realms('Basic realm="hikvision"') == ["hikvision"]
    assert auth.parse_realms('Digest realm="Login to 4G0", qop="auth",Basic realm=device') == \
        ["Login to 4G0", "device"]
    assert auth.parse_realms(r'Basic realm="say \"hi\""') == ['say "hi"']
    assert auth.parse_realms('Digest nonce="x", qop="auth"') == []
    assert auth.parse_realms('Basic myrealm="no"') == []
    assert auth.parse_realms("") == []


def test_parse_realms_hostile_input_is_fast() -> None:
    started = time.monotonic()
    auth.parse_realms('realm="' + "\\" * 100_000)
    auth.parse_realms(", realm=" * 20_000)
    assert time.monotonic() - started < 1.0


def test_cookie_names() -> None:
    headers = [("Set-Cookie", "_goaheadwebSessionId=; path=/"), ("SET-COOKIE", "lang=en"),
               ("set-cookie", "lang=fr"), ("Set-Cookie", "bad name=1"), ("Server", "x=y")]
    assert http_wire.cookie_names(headers) == ["_goaheadwebSessionId", "lang"]
    assert http_wire.cookie_names([]) == []


def test_favicon_hashes_are_shodan_style_and_md5() -> None:
    data = bytes(range(256)) * 3
    mmh, md5 = http_wire.favicon_hashes(data)
    b64 = base64.b64encode(data)
    lines = b"".join(b64[i:i + 76] + b"\n" for i in range(0, len(b64), 76))
    assert mmh == mmh3.hash(lines)  # signed 32-bit, newline every 76 characters
    assert mmh != mmh3.hash(b64)
    assert -(2**31) <= mmh < 2**31
    assert md5 == hashlib.md5(data).hexdigest()
    assert http_wire.favicon_hashes(b"") == (0, "d41d8cd98f00b204e9800998ecf8427e")


def test_redirect_target() -> None:
    base = "http://10.0.0.5:8080/"
    assert http_wire.redirect_target(base, "/doc/page/login.asp?_1", "10.0.0.5", 8080) == \
        "http://10.0.0.5:8080/doc/page/login.asp?_1"
    assert http_wire.redirect_target(base, "index.asp", "10.0.0.5", 8080) == \
        "http://10.0.0.5:8080/index.asp"
    assert http_wire.redirect_target("http://10.0.0.5/", "http://10.0.0.5/index.asp",
                                "10.0.0.5", 80) == "http://10.0.0.5/index.asp"
    assert http_wire.redirect_target(base, "http://10.0.0.6:8080/", "10.0.0.5", 8080) is None
    assert http_wire.redirect_target(base, "http://10.0.0.5/", "10.0.0.5", 8080) is None
    assert http_wire.redirect_target(base, "https://10.0.0.5/", "10.0.0.5", 8080) is None
    assert http_wire.redirect_target(base, "//evil.example/", "10.0.0.5", 8080) is None
    assert http_wire.redirect_target(base, "http://u:p@10.0.0.5:8080/", "10.0.0.5", 8080) is None
    assert http_wire.redirect_target(base, "javascript:alert(1)", "10.0.0.5", 8080) is None
    assert http_wire.redirect_target(base, "http://[::1", "10.0.0.5", 8080) is None


def test_decode_text() -> None:
    assert http_wire.decode_text("é".encode() + "€".encode()[:2]) == "é"
    assert http_wire.decode_text(b"caf\xe9 ok") == "caf\u00e9 ok"
    assert http_wire.decode_text(b"\xef\xbb\xbf<html>").startswith("\ufeff")


def test_decode_body_is_bounded() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    out = http_wire.decode_body(bomb, "gzip")
    assert len(out) == http_wire.MAX_BODY
    assert http_wire.decode_body(b"not gzip", "gzip") == b"not gzip"
    assert http_wire.decode_body(b"plain", "") == b"plain"


def test_looks_like_tls() -> None:
    alert = httpx.RemoteProtocolError("illegal status line: bytearray(b'\\x15\\x03\\x01\\x00')")
    assert net_http.looks_like_tls(alert)
    assert net_http.looks_like_tls(
        httpx.RemoteProtocolError("Server disconnected without sending a response."))
    assert net_http.looks_like_tls(httpx.ReadError("reset"))
    assert not net_http.looks_like_tls(
        httpx.RemoteProtocolError("illegal status line: bytearray(b'\\x00\\x01garbage')"))
    assert not net_http.looks_like_tls(httpx.ReadTimeout("slow"))


def test_chain_hikvision_old_ui_captures() -> None:
    first = h11_reply(capture("http/hikvision_webs_root_redirect.http"))
    final = h11_reply(capture("http/hikvision_old_ui_index.http"), "http://192.0.0.64/index.asp")
    obs = http.chain_observations("192.0.0.64", 80, [first, final])
    assert values(obs, "http.status") == ["200"]
    assert values(obs, "http.location") == ["http://192.0.0.64/index.asp"]
    assert values(obs, "http.header.server") == ["Webs", "DNVRS-Webs"]
    assert values(obs, "http.cookie") == ["_goaheadwebSessionId"]
    assert values(obs, "http.headers")[0].startswith("HTTP/1.1 302 Redirect\r\nServer: Webs\r\n")
    assert "/doc/page/login.asp?_" in values(obs, "http.body")[0]
    assert values(obs, "http.title") == []  # the page has an empty <title>
    assert all(o.probe == "http" and o.port == 80 for o in obs)


def test_chain_hikvision_new_ui_capture() -> None:
    reply = h11_reply(capture("http/hikvision_new_ui_root.http"))
    obs = http.chain_observations("192.0.2.10", 80, [reply])
    assert values(obs, "http.header.server") == ["webserver"]
    body = values(obs, "http.body")[0]
    assert body.startswith("\ufeff<!doctype html>")
    assert "/doc/index.html#/portal/login" in body


def test_chain_dahua_keeps_upper_case_header_names() -> None:
    reply = h11_reply(capture("http/dahua_root.http"))
    obs = http.chain_observations("192.0.2.10", 80, [reply])
    block = values(obs, "http.headers")[0]
    assert block.startswith("HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 383\r\nCONTENT-TYPE: text/html\r\n"
                            "CONNECTION: close\r\n")
    assert values(obs, "http.title") == ["WEB SERVICE"]
    assert values(obs, "http.header.server") == []


def test_extra_replies_isapi_and_dahua() -> None:
    isapi = h11_reply(capture("http/hikvision_isapi_usercheck_401.http"))
    obs = http.reply_observations("192.0.2.10", 80, isapi, "http.isapi")
    assert values(obs, "http.isapi.status") == ["401"]
    assert values(obs, "http.isapi.realm") == ["IP Camera(C2183)"]
    legacy = h11_reply(capture("http/hikvision_isapi_usercheck_legacy.http"))
    obs = http.reply_observations("192.0.2.10", 80, legacy, "http.isapi")
    assert values(obs, "http.isapi.status") == ["200"]
    assert "<statusValue>401</statusValue>" in values(obs, "http.isapi.body")[0]
    dahua = h11_reply(capture("http/dahua_magicbox_401.http"))
    obs = http.reply_observations("192.0.2.10", 80, dahua, "http.dahua")
    assert values(obs, "http.dahua.realm") == ["Login to 4G02A3BPAZ12345"]
    assert values(obs, "http.dahua.body") == []


@pytest.mark.parametrize("name", [
    "hikvision_webs_root_redirect", "hikvision_old_ui_index", "hikvision_new_ui_root",
    "hikvision_isapi_usercheck_401", "hikvision_isapi_usercheck_legacy", "dahua_root",
    "dahua_magicbox_401",
])
def test_lenient_parser_agrees_with_h11_on_captures(name: str) -> None:
    data = capture(f"http/{name}.http")
    strict = h11_reply(data)
    lenient = http_wire.parse_raw_response(data, strict.url)
    assert lenient is not None
    assert (lenient.status, lenient.reason, lenient.http_version) == \
        (strict.status, strict.reason, strict.http_version)
    assert lenient.headers == strict.headers
    assert lenient.body == strict.body


def test_lenient_parser_reads_heads_h11_rejects() -> None:
    data = (b"http/1.1 200 OK\nServer : DVRDVS-Webs\nGarbageLine\n: empty\n"
            b"X-Folded: a\n  b\nContent-Length: 2\nContent-Length: 3\n\nhello")
    reply = http_wire.parse_raw_response(data)
    assert reply is not None
    assert reply.status == 200 and reply.http_version == "HTTP/1.1"
    assert reply.headers[:2] == [("Server", "DVRDVS-Webs"), ("X-Folded", "a b")]
    assert reply.body == b"hello"  # conflicting lengths: keep what came
    chunked = http_wire.parse_raw_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n3;x=y\r\n!!!\r\n0\r\n\r\n")
    assert chunked is not None and chunked.body == b"hello!!!"
    cut = http_wire.parse_raw_response(b"HTTP/1.0 200\r\nContent-Length: 10\r\n\r\nhi")
    assert cut is not None and cut.body == b"hi" and cut.reason == ""


def test_lenient_parser_rejects_non_http() -> None:
    assert http_wire.parse_raw_response(b"") is None
    assert http_wire.parse_raw_response(b"<html>HTTP/1.1 200 OK</html>") is None
    assert http_wire.parse_raw_response(b"\x15\x03\x01\x00\x02\x02\x28") is None
    assert http_wire.parse_raw_response(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n") is None
    assert http_wire.parse_raw_response(b"HTTP/1.1 200 OK" + b"x" * 2000 + b"\r\n\r\n") is None


def test_header_block_is_capped() -> None:
    reply = Reply(url="http://x/", status=200, headers=[("X-Junk", "a" * 5000)] * 4)
    assert len(http_wire.header_block(reply)) == http_wire.MAX_HEADER_BLOCK


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000), st.binary(max_size=3000))
def test_parsers_never_raise(text: str, data: bytes) -> None:
    http_wire.parse_title(text)
    http_wire.parse_title(data)
    auth.parse_realms(text)
    http_wire.cookie_names([("Set-Cookie", text)])
    http_wire.decode_text(data)
    http_wire.decode_body(data, "gzip")
    http_wire.decode_body(data, "deflate")
    http_wire.redirect_target("http://10.0.0.5/", text, "10.0.0.5", 80)
    http_wire.parse_raw_response(data)
    http_wire.parse_raw_response(b"HTTP/1.1 200 OK\r\n" + data)
    http_wire.parse_raw_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + data)
    reply = Reply(url="http://10.0.0.5/", status=200, headers=[("Set-Cookie", text),
                  ("WWW-Authenticate", text), ("Location", text)], body=data)
    http.chain_observations("10.0.0.5", 80, [reply])
    http.reply_observations("10.0.0.5", 80, reply, "http.isapi")


# --------------------------------------------------------------------------------------------
# run() against loopback servers


ICON = bytes(range(256)) * 4


async def test_run_hikvision_old_ui_follows_same_host_redirect() -> None:
    srv = LoopbackServer({})
    await srv.start()
    try:
        here = f"http://{IP}:{srv.port}/index.asp".encode()
        srv.routes.update({
            "/": capture("http/hikvision_webs_root_redirect.http").replace(
                b"http://192.0.0.64/index.asp", here),
            "/index.asp": capture("http/hikvision_old_ui_index.http"),
            ISAPI_PATH: capture("http/hikvision_isapi_usercheck_legacy.http"),
            http.FAVICON_PATH: simple("200 OK", [("Content-Type", "image/x-icon")], ICON),
        })
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    finally:
        await srv.close()
    assert result.outcome.status is Status.OK, result.outcome.reason
    obs = result.observations
    assert srv.requests == ["/", "/index.asp", ISAPI_PATH, DAHUA_PATH,
                            http.FAVICON_PATH]
    assert values(obs, "service") == ["http"]
    assert values(obs, "http.scheme") == []
    assert values(obs, "http.status") == ["200"]
    assert values(obs, "http.location") == [here.decode()]
    assert values(obs, "http.header.server") == ["Webs", "DNVRS-Webs"]
    assert values(obs, "http.cookie") == ["_goaheadwebSessionId"]
    assert "/doc/page/login.asp?_" in values(obs, "http.body")[0]
    assert values(obs, "http.headers")[0].startswith("HTTP/1.1 302 Redirect\r\n")
    assert values(obs, "http.isapi.status") == ["200"]
    assert values(obs, "http.dahua.status") == ["404"]
    mmh, md5 = http_wire.favicon_hashes(ICON)
    assert values(obs, "http.favicon.mmh3") == [str(mmh)]
    assert values(obs, "http.favicon.md5") == [md5]
    assert all(o.ip == IP and o.port == srv.port for o in obs)


async def test_run_hikvision_new_ui_and_isapi_realm() -> None:
    routes = {"/": capture("http/hikvision_new_ui_root.http"),
              ISAPI_PATH: capture("http/hikvision_isapi_usercheck_401.http")}
    async with LoopbackServer(routes) as srv:
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    obs = result.observations
    assert result.outcome.status is Status.OK
    assert values(obs, "http.header.server") == ["webserver"]
    assert values(obs, "http.isapi.status") == ["401"]
    assert values(obs, "http.isapi.realm") == ["IP Camera(C2183)"]
    assert values(obs, "http.realm") == []  # the realm came from ISAPI, not from /
    assert values(obs, "http.favicon.md5") == []  # 404 is not hashed


async def test_run_dahua_upper_case_headers() -> None:
    routes = {"/": capture("http/dahua_root.http"),
              DAHUA_PATH: capture("http/dahua_magicbox_401.http")}
    async with LoopbackServer(routes) as srv:
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    obs = result.observations
    assert "\r\nCONTENT-LENGTH: 383\r\n" in values(obs, "http.headers")[0]
    assert values(obs, "http.title") == ["WEB SERVICE"]
    assert values(obs, "http.dahua.status") == ["401"]
    assert values(obs, "http.dahua.realm") == ["Login to 4G02A3BPAZ12345"]


async def test_run_realm_on_root() -> None:
    challenge = 'Digest qop="auth", realm="IP Camera(C2183)", nonce="6e6f6e6365"'
    routes = {"/": simple("401 Unauthorized", [("WWW-Authenticate", challenge)])}
    async with LoopbackServer(routes) as srv:
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    obs = result.observations
    assert values(obs, "http.status") == ["401"]
    assert values(obs, "http.www_authenticate") == [challenge]
    assert values(obs, "http.realm") == ["IP Camera(C2183)"]


async def _server_pair() -> tuple[LoopbackServer, LoopbackServer]:
    """A server on 127.66.0.2 and one on 127.0.0.1 with the same port number."""
    for _ in range(20):
        other = await LoopbackServer({"*": simple("200 OK", [], b"other")},
                                     host="127.66.0.2").start()
        main = LoopbackServer({})
        try:
            await main.start(other.port)
        except OSError:
            await other.close()
            continue
        return main, other
    pytest.skip("no port free on both loopback addresses")


async def test_run_never_follows_redirect_to_another_host() -> None:
    main, other = await _server_pair()
    try:
        elsewhere = f"http://127.66.0.2:{other.port}/login"
        main.routes["/"] = simple("302 Found", [("Location", elsewhere)])
        result = await http.run(make_ctx(IP, port=main.port), main.port)
    finally:
        await main.close()
        await other.close()
    assert other.connections == 0
    obs = result.observations
    assert values(obs, "http.location") == [elsewhere]
    assert values(obs, "http.status") == ["302"]
    assert main.requests[0] == "/" and "/login" not in main.requests


async def test_run_redirect_loop_stops_after_two() -> None:
    routes = {"/": simple("302 Found", [("Location", "/a")]),
              "/a": simple("302 Found", [("Location", "/b")]),
              "/b": simple("302 Found", [("Location", "/a")])}
    async with LoopbackServer(routes) as srv:
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    assert srv.requests[:3] == ["/", "/a", "/b"]
    assert srv.requests.count("/a") == 1
    assert len(srv.requests) <= 6
    obs = result.observations
    assert values(obs, "http.location") == ["/a", "/b"]
    assert values(obs, "http.status") == ["302"]


async def test_run_huge_body_is_cut_at_64_kib() -> None:
    sent = 0

    async def huge(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal sent
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        chunk = b"A" * 65_536
        while sent < 64 * 1024 * 1024:
            w.write(chunk)
            sent += len(chunk)
            await w.drain()

    async with LoopbackServer({"/": huge}) as srv:
        started = time.monotonic()
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
        elapsed = time.monotonic() - started
    body = values(result.observations, "http.body")
    assert body and len(body[0]) == http_wire.MAX_BODY
    assert elapsed < 4.0
    assert sent < 64 * 1024 * 1024  # the client hung up instead of reading on


async def test_run_trickling_body_is_bounded_by_the_timeout() -> None:
    async def trickle(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nServer: Trickle\r\nContent-Length: 100000\r\n\r\n<title>slo")
        for _ in range(200):
            await asyncio.sleep(0.1)
            w.write(b"w")
            await w.drain()

    async with LoopbackServer({"*": trickle}) as srv:
        ctx = make_ctx(IP, port=srv.port, timeout=2.0, read_timeout=1.0)
        started = time.monotonic()
        result = await http.run(ctx, srv.port)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert result.outcome.status is Status.PARTIAL  # the body never completed
    assert "incomplete" in result.outcome.reason
    obs = result.observations
    assert values(obs, "http.header.server") == ["Trickle"]
    assert values(obs, "http.body")[0].startswith("<title>slow")


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02garbage\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.2\r\n",
    bytes(range(256)) * 8,
])
async def test_run_garbage_instead_of_http(garbage: bytes) -> None:
    async def answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(garbage)
        await w.drain()

    async with LoopbackServer({}, raw=answer) as srv:
        result = await http.run(make_ctx(IP, port=srv.port, timeout=3.0), srv.port)
    assert result.outcome.status in (Status.ERROR, Status.TIMEOUT)
    assert result.outcome.status is Status.ERROR or "timed out" in result.outcome.reason
    assert not values(result.observations, "http.status")


async def test_run_tls10_only_web_server_on_odd_port() -> None:
    routes = {"/": simple("200 OK", [("Server", "App-webs/")], b"<title>x</title>")}
    async with LoopbackServer(routes, ssl_context=tls10_only_server_context()) as srv:
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    assert result.outcome.status is Status.OK, result.outcome.reason
    obs = result.observations
    assert values(obs, "service") == ["https"]
    assert values(obs, "http.scheme") == ["https"]
    assert values(obs, "http.header.server") == ["App-webs/"]
    assert values(obs, "tls.subject") == [HIKVISION_SUBJECT]
    assert values(obs, "tls.version") == ["TLSv1"]
    assert srv.requests[0] == "/"


async def test_run_tls_alert_status_line_is_retried_over_tls() -> None:
    """A server answering plain HTTP with a TLS alert record followed by a newline."""
    calls: list[str] = []

    async def alert(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        first = await r.read(1)
        calls.append("tls" if first == b"\x16" else "plain")
        if first != b"\x16":
            w.write(b"\x15\x03\x01\x00\x02\x02\x28\r\n\r\n")
            await w.drain()

    async with LoopbackServer({}, raw=alert) as srv:
        result = await http.run(make_ctx(IP, port=srv.port, timeout=3.0), srv.port)
    assert calls[:2] == ["plain", "tls"]
    assert result.outcome.status is Status.ERROR
    assert "https:" in result.outcome.reason


async def test_run_falls_back_to_lenient_parsing_for_malformed_heads() -> None:
    quirky = (b"HTTP/1.1 200 OK\r\nServer : DVRDVS-Webs\r\nGarbageLine\r\n"
              b"Content-Type: text/html\r\n\r\n<title>DVR</title>" + b"x" * 200_000)
    async with LoopbackServer({"*": quirky}) as srv:
        result = await http.run(make_ctx(IP, port=srv.port), srv.port)
    assert result.outcome.status is Status.OK, result.outcome.reason
    obs = result.observations
    assert values(obs, "http.header.server") == ["DVRDVS-Webs"]
    assert values(obs, "http.title") == ["DVR"]
    assert len(values(obs, "http.body")[0]) == http_wire.MAX_BODY
    assert values(obs, "http.headers")[0].startswith("HTTP/1.1 200 OK\r\nServer: DVRDVS-Webs\r\n")
    # the rejected h11 attempt, then raw GETs only: still at most six requests
    assert srv.requests == ["/", "/", ISAPI_PATH, DAHUA_PATH, http.FAVICON_PATH]


async def test_run_closed_port() -> None:
    srv = await LoopbackServer({}).start()
    port = srv.port
    await srv.close()
    result = await http.run(make_ctx(IP, port=port), port)
    assert result.outcome.status is Status.CLOSED
    assert result.observations == []


async def test_run_out_of_scope_and_forbidden_port_send_nothing() -> None:
    async with LoopbackServer({"*": simple("200 OK", [])}) as srv:
        result = await http.run(make_ctx(IP, scope_ip="127.0.0.2", port=srv.port), srv.port)
        assert result.outcome.status is Status.SKIPPED
        result = await http.run(make_ctx(IP, port=9100), 9100)
        assert result.outcome.status is Status.SKIPPED
        assert srv.connections == 0


def test_probe_registration() -> None:
    (probe,) = http.PROBES
    assert probe.fallback is True
    assert 8000 not in probe.ports
    assert {80, 443, 8080, 8443} <= probe.ports


# --- GET / chain anomalies (hostile devices) ------------------------------------------

def _r(url: str, status: int, headers: list[tuple[str, str]]) -> Reply:
    return Reply(url=url, status=status, headers=headers)


def test_chain_anomalies_redirect_loop_and_long_chain() -> None:
    loop = [_r("http://10.0.0.5/", 302, [("Location", "/")])]
    assert http_wire.chain_anomalies(loop)[0].startswith("redirect loop after 0 redirect(s)")
    pingpong = [_r("http://10.0.0.5/", 302, [("Location", "/a")]),
                _r("http://10.0.0.5/a", 302, [("Location", "/b")]),
                _r("http://10.0.0.5/b", 302, [("Location", "/a")])]
    assert "redirect loop after 2" in http_wire.chain_anomalies(pingpong)[0]
    long = [_r(f"http://10.0.0.5/{i}", 302, [("Location", f"/{i + 1}")]) for i in range(3)]
    assert http_wire.chain_anomalies(long) == [
        "still redirecting after 2 redirects; not followed further"]


def test_chain_anomalies_ignore_ordinary_redirects_and_sizes() -> None:
    # HTTP -> HTTPS on another port is not followed, and is no anomaly
    to_https = [_r("http://10.0.0.5/", 302, [("Location", "https://10.0.0.5/")])]
    assert http_wire.chain_anomalies(to_https) == []
    page = [_r("http://10.0.0.5/", 200, [("Content-Length", "250000")])]
    assert http_wire.chain_anomalies(page) == []  # big, but a page: read 64 KiB, no anomaly
    assert http_wire.chain_anomalies([]) == []


def test_chain_anomalies_absurd_announced_length() -> None:
    huge = [_r("http://10.0.0.5/", 200, [("Content-Length", str(1 << 30))])]
    assert http_wire.chain_anomalies(huge) == [
        "announced a 1,073,741,824-byte body; read at most 65,536"]

"""HTTP responses as devices send them: pure parsing, never raising.

:class:`Reply` is one response as received (status line, raw headers in order, the body's
first bytes). The parsers (:func:`parse_title`, :func:`cookie_names`, :func:`favicon_hashes`,
:func:`parse_raw_response`, :func:`chain_anomalies`, ...) are pure and never raise; realms are
:func:`camscan.wire.auth.parse_realms`.

h11 (under httpx) keeps header names as received, so Dahua's ``CONTENT-LENGTH:`` stays upper
case; :func:`header_block` rebuilds the block from the status line and the raw (name, value)
pairs in order, one ``Name: value`` per line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import httpx
import mmh3

MAX_BODY = 65_536  # bytes of any body ever read
MAX_HEADER_BLOCK = 8_192  # characters of a rebuilt header block
MAX_HEAD = 16_384  # bytes of a response head read by the lenient parser
MAX_REDIRECTS = 2
ABSURD_LENGTH = 16 * 1024 * 1024  # an announced body no camera web page comes near
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_TITLE = re.compile(rb"<title[^>]{0,256}>([^<]{0,2048})</title", re.IGNORECASE)
_TITLE_TEXT = re.compile(r"<title[^>]{0,256}>([^<]{0,2048})</title", re.IGNORECASE)
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}")
_SPACES = re.compile(r"\s{1,4096}")
_STATUS_LINE = re.compile(
    rb"[ \t]{0,4}HTTP/(\d{1,2})\.(\d{1,2})[ \t]{1,8}(\d{3})"
    rb"(?:[ \t]{1,8}([^\r\n]{0,512}))?[ \t\r]{0,8}",
    re.IGNORECASE,
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[ \t]{0,8}([0-9A-Fa-f]{1,8})[^\n]{0,256}\n")


@dataclass
class Reply:
    """One HTTP response as received: status line, raw headers in order, the body's first bytes."""

    url: str
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False  # the body went on past the read limit
    incomplete: str = ""  # why the body ended early (timed out, connection lost), if it did
    tls_version: str | None = None
    certificate: bytes | None = None


def header_values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def header_block(reply: Reply) -> str:
    """The status line and header block of ``reply`` (names as received), CRLF-separated."""
    lines = [f"{reply.http_version} {reply.status} {reply.reason}".rstrip()]
    lines.extend(f"{k}: {v}" for k, v in reply.headers)
    return ("\r\n".join(lines) + "\r\n")[:MAX_HEADER_BLOCK]


def decode_text(data: bytes) -> str:
    """Body text: UTF-8 (a character cut at the end by the read limit is dropped), else
    Latin-1. A byte-order mark is kept (rules may match on it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            with contextlib.suppress(UnicodeDecodeError):
                return data[: exc.start].decode("utf-8")
    return data.decode("latin-1")


def decode_body(data: bytes, content_encoding: str = "") -> bytes:
    """Undo ``gzip``/``deflate`` content coding, producing at most :data:`MAX_BODY` bytes.
    Anything else (or a broken stream) is returned as it came."""
    coding = content_encoding.strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        return data
    for wbits in ((47,) if coding != "deflate" else (15, -15)):
        try:
            out = zlib.decompressobj(wbits).decompress(data, MAX_BODY)
        except zlib.error:
            continue
        return out
    return data


def parse_title(html_text: str | bytes) -> str | None:
    """The text of the first ``<title>``, unescaped and with whitespace collapsed."""
    try:
        if isinstance(html_text, bytes):
            m = _TITLE.search(html_text[:MAX_BODY])
            raw = decode_text(m.group(1)) if m else None
        else:
            mt = _TITLE_TEXT.search(html_text[:MAX_BODY])
            raw = mt.group(1) if mt else None
        if raw is None:
            return None
        text = _SPACES.sub(" ", html.unescape(raw)).strip()
        return text[:512] or None
    except Exception:
        return None


def cookie_names(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Names of the cookies set by ``Set-Cookie`` headers, de-duplicated, in order."""
    names: list[str] = []
    try:
        for value in header_values(headers, "set-cookie"):
            name = value.split(";", 1)[0].split("=", 1)[0].strip()
            if _COOKIE_NAME.fullmatch(name) and name not in names:
                names.append(name)
    except Exception:
        return names
    return names


def favicon_hashes(data: bytes) -> tuple[int, str]:
    """(Shodan's favicon hash, MD5 hex): the signed MurmurHash3-32 (seed 0) of
    ``base64.encodebytes(data)`` (newline every 76 characters), and the MD5 of the bytes."""
    shodan = int(mmh3.hash(base64.encodebytes(data)))
    return shodan, hashlib.md5(data, usedforsecurity=False).hexdigest()


def redirect_target(base_url: str, location: str, ip: str, port: int) -> str | None:
    """The absolute URL to follow for ``location`` seen at ``base_url``, or None when it must
    not be followed: another address, another port, a scheme other than http(s), user info,
    or anything unparseable. Never resolves names."""
    try:
        target = httpx.URL(base_url).join(location.strip())
    except Exception:
        return None
    if target.scheme not in ("http", "https") or target.userinfo:
        return None
    if target.host != ip:
        return None
    target_port = target.port or (443 if target.scheme == "https" else 80)
    if target_port != port:
        return None
    return str(target)


def _dechunk(data: bytes) -> bytes:
    """Undo chunked transfer coding, leniently: a broken or cut stream gives what came before."""
    out = bytearray()
    pos = 0
    while pos < len(data) and len(out) < MAX_BODY:
        m = _CHUNK_SIZE.match(data, pos)
        if m is None:
            break
        size = int(m.group(1), 16)
        if size == 0:
            break
        start = m.end()
        out += data[start:start + size]
        pos = start + size
        if data[pos:pos + 2] == b"\r\n":
            pos += 2
        elif data[pos:pos + 1] == b"\n":
            pos += 1
    return bytes(out[:MAX_BODY])


def parse_raw_response(data: bytes, url: str = "") -> Reply | None:
    """A lenient reading of a raw HTTP response (status line, headers as received, body), for
    heads that h11 rejects (``Server : x``, stray lines, bad ``Content-Length``, a lower-case
    ``http/1.1``). Header lines without a colon are skipped; folded lines are joined.
    None when the bytes do not start with an HTTP status line. Never raises."""
    try:
        m = _STATUS_LINE.match(data[:600])
        if m is None or data[m.end():m.end() + 1] not in (b"\n", b""):
            return None
        end = _HEAD_END.search(data, 0, MAX_HEAD + 4)
        head, body = (data[: end.start()], data[end.end():]) if end else (data[:MAX_HEAD], b"")
        headers: list[tuple[str, str]] = []
        for raw_line in head.split(b"\n")[1:256]:
            line = raw_line.rstrip(b"\r")
            if line[:1] in (b" ", b"\t") and headers:
                name, value = headers[-1]
                headers[-1] = (name, (value + " " + line.strip().decode("latin-1")).strip())
                continue
            name_b, colon, value_b = line.partition(b":")
            name_b = name_b.strip()
            if not colon or not name_b or len(name_b) > 256:
                continue
            headers.append((name_b.decode("latin-1"), value_b.strip().decode("latin-1")))
        if any("chunked" in v.lower() for v in header_values(headers, "transfer-encoding")):
            body = _dechunk(body)
        else:
            lengths = {v.strip() for v in header_values(headers, "content-length")}
            if len(lengths) == 1:
                (only,) = lengths
                if only.isdigit() and len(only) < 16:
                    body = body[: int(only)]
        major, minor = m.group(1).decode(), m.group(2).decode()
        return Reply(
            url=url, status=int(m.group(3)),
            reason=(m.group(4) or b"").strip().decode("latin-1"),
            http_version=f"HTTP/{major}.{minor}", headers=headers, body=bytes(body[:MAX_BODY]),
            truncated=len(body) > MAX_BODY,
        )
    except Exception:
        return None


def chain_anomalies(chain: Sequence[Reply]) -> list[str]:
    """What in a ``GET /`` chain broke a limit: a redirect loop or a chain longer than
    :data:`MAX_REDIRECTS`, an absurd announced ``Content-Length``. Pure; never raises."""
    notes: list[str] = []
    try:
        if not chain:
            return notes
        urls = [r.url for r in chain]
        last = chain[-1]
        locations = header_values(last.headers, "location")
        if last.status in REDIRECT_STATUSES and locations:
            try:
                nxt = str(httpx.URL(last.url).join(locations[0].strip()))
            except Exception:
                nxt = ""
            if nxt in urls or len(set(urls)) < len(urls):
                notes.append(f"redirect loop after {len(chain) - 1} redirect(s) ({nxt[:120]})")
            elif len(chain) > MAX_REDIRECTS:
                notes.append(f"still redirecting after {MAX_REDIRECTS} redirects; not followed "
                             "further")
        for r in chain:
            for v in header_values(r.headers, "content-length")[:1]:
                v = v.strip()
                if v.isdigit() and len(v) < 20 and int(v) > ABSURD_LENGTH:
                    notes.append(f"announced a {int(v):,}-byte body; read at most {MAX_BODY:,}")
                    break
    except Exception:  # pragma: no cover - defensive
        pass
    return notes

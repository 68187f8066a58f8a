"""Shared pieces of the parser fuzz tests: the settings profile, the honest input counter,
the real captures and the strategies that mutate them or build hostile inputs."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ParamSpec

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE = "camscan-fuzz"
CAPTURES = Path(__file__).resolve().parent.parent / "captures"

_COUNTS: Counter[str] = Counter()

P = ParamSpec("P")


def fuzz_settings(*, big_inputs: bool = False) -> settings:
    """The ``camscan-fuzz`` profile registered by ``tests/fuzz/conftest.py``. ``big_inputs``:
    the strategy builds large structured inputs (thousands of headers or attributes, signed
    certificates), so Hypothesis' "too slow to generate" health check is suppressed there."""
    import tests.fuzz.conftest  # noqa: F401  (registers the profile when imported outside pytest)

    profile = settings.get_profile(PROFILE)
    if big_inputs:
        return settings(profile, suppress_health_check=[HealthCheck.too_slow])
    return profile


def counted(fn: Callable[P, None]) -> Callable[P, None]:
    """Count every execution of a property body (one input tried), keyed by test name.
    Put it under ``@given`` so Hypothesis' own calls are what gets counted."""
    key = f"{fn.__module__.rsplit('.', 1)[-1]}::{fn.__name__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        _COUNTS[key] += 1
        fn(*args, **kwargs)

    return wrapper


def counts() -> dict[str, int]:
    return dict(_COUNTS)


def captures(probe: str, *suffixes: str) -> list[bytes]:
    """The bytes of every capture under ``tests/captures/<probe>/`` (not the ``.about``)."""
    folder = CAPTURES / probe
    out = [p.read_bytes() for p in sorted(folder.iterdir())
           if p.is_file() and not p.name.endswith(".about")
           and (not suffixes or p.name.endswith(suffixes))]
    assert out, f"no captures in {folder}"
    return out


# ----------------------------------------------------------------------- mutations

@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_ops: int = 4) -> bytes:
    """A real capture after 1..max_ops random edits: truncation, byte flips, insertions,
    deletions, a splice with another capture, a chunk repeated many times."""
    data = bytearray(draw(st.sampled_from(list(seeds))))
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(
            ("truncate", "flip", "insert", "delete", "splice", "repeat", "overwrite")))
        n = len(data)
        at = draw(st.integers(0, n))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and n:
            i = min(at, n - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16)
                               | st.sampled_from(INTERESTING_BYTES))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "splice":
            other = draw(st.sampled_from(list(seeds)))
            data = data[:at] + other[draw(st.integers(0, len(other))):]
        elif op == "repeat" and n:
            start = min(at, n - 1)
            chunk = data[start:start + draw(st.integers(1, 32))]
            times = draw(st.integers(2, 2000))
            data[start:start] = chunk * times
        elif op == "overwrite" and n:
            patch = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(patch)] = patch
    return bytes(data)


INTERESTING_BYTES: list[bytes] = [
    b"\x00", b"\xff", b"\r", b"\n", b"\r\n", b"\r\r\r", b"\n\n", b"\r\n\r\n", b"\x80",
    b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"<", b">", b"&", b"&amp;", b"&#0;",
    b"&#x110000;", b"]]>", b"<!--", b"\"", b"'", b"=", b":", b";", b",", b"\\", b"%",
    b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff",
]


def raw_or_mutated(seeds: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """Raw bytes, or a mutation of a real capture (most of the time)."""
    return st.one_of(st.binary(max_size=2048), mutated(seeds), mutated(seeds, max_ops=12))


# ----------------------------------------------------------------------- hostile XML

XXE_MARK = "root:x:0:0"
_NAME = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,12}\Z")
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="<&"), max_size=40)


@st.composite
def xml_tree(draw: st.DrawFn, names: Sequence[str], depth: int = 0) -> str:
    """Random element nesting over the element names a parser looks for."""
    name = draw(st.sampled_from(list(names)) | _NAME)
    prefix = draw(st.sampled_from(("", "", "s:", "d:", "tt:", "x:")))
    tag = prefix + name
    ns = ""
    if prefix and draw(st.booleans()):
        uri = draw(st.sampled_from(("urn:x", "http://www.onvif.org/ver10/schema", "")))
        ns = f' xmlns:{prefix[:-1]}="{uri}"'
    nattrs = draw(st.sampled_from((0, 0, 1, 3, 5000)))
    attrs = "".join(f' a{i}="{i}"' for i in range(nattrs))
    if depth >= 6 or draw(st.integers(0, 3)) == 0:
        body = draw(_TEXT | st.sampled_from(("&amp;", "&lt;x&gt;", "&#65;", "<![CDATA[<x>]]>",
                                               "&xxe;", "&lol9;", "  \t\n ")))
    else:
        kids = draw(st.lists(xml_tree(names, depth + 1), max_size=4))
        body = "".join(kids)
    return f"<{tag}{ns}{attrs}>{body}</{tag}>"


_DOCTYPES = (
    '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
    '<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd">',
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
              for i in range(1, 10)) + "]>",
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">]>',
    "<!DOCTYPE r>",
)


@st.composite
def hostile_xml(draw: st.DrawFn, names: Sequence[str]) -> bytes:
    """XML built to hurt: random nesting of the expected names, entity declarations (billion
    laughs, external entities), thousands of attributes, deep nesting, bad encodings, NULs."""
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from((
            '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-16"?>',
            '<?xml version="1.0" encoding="x-nonsense"?>', "<?xml version='1.1'?>"))))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(_DOCTYPES)))
    tree = draw(xml_tree(names))
    if draw(st.integers(0, 5)) == 0:
        depth = draw(st.integers(100, 5000))
        tree = "<d>" * depth + tree + "</d>" * depth
    parts.append(tree)
    data = "".join(parts).encode("utf-8")
    tail = draw(st.sampled_from((b"", b"", b"\x00", b"\xff\xfe", b"\xc3\x28", b"<", b"</x>")))
    if tail and draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + tail + data[at:]
    return data


def assert_no_xxe(value: object, data: bytes) -> None:
    """No content of /etc/passwd (an external entity) in what was parsed from ``data``."""
    if XXE_MARK.encode() not in data:
        assert XXE_MARK not in repr(value)


# ----------------------------------------------------------------------- hostile HTTP heads

@st.composite
def hostile_head(draw: st.DrawFn, status_line: bytes) -> bytes:
    """An HTTP/RTSP head with thousands of headers, overlong lines, bare CRs, folded lines,
    odd separators and a body that lies about its length or chunking."""
    eol = draw(st.sampled_from((b"\r\n", b"\n", b"\r", b"\r\r\n")))
    lines = [draw(st.sampled_from((status_line, status_line.lower(), status_line + b" \x00",
                                   status_line.replace(b" ", b"  ", 1))))]
    many = draw(st.sampled_from((0, 1, 5, 300, 5000)))
    names = (b"Server", b"WWW-Authenticate", b"Set-Cookie", b"Content-Length", b"Location",
             b"Transfer-Encoding", b"Content-Encoding", b"CSeq", b"Public", b"X")
    for i in range(many):
        lines.append(names[i % len(names)] + b": v" + str(i).encode())
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(names) | st.binary(max_size=8))
        value = draw(st.sampled_from((
            b'Digest realm="IP Camera(C2183)", nonce="abc", qop="auth"', b"Basic realm=x",
            b'Digest realm="' + b"\\" * 3000 + b'"', b"realm=" + b"a" * 70000,
            b"chunked", b"gzip", b"deflate", b"-1", b"99999999999999999999", b"1, 2",
            b"App-webs/", b"a" * 20000, b"\x00\xff\x80", b"id=1; path=/", b"http://[::1",
            b'realm="' + b'"' * 500)) | st.binary(max_size=64))
        sep = draw(st.sampled_from((b": ", b":", b" : ", b"", b"\t:")))
        lines.append(name + sep + value)
        if draw(st.integers(0, 4)) == 0:
            lines.append(b" \tfolded continuation")
    head = eol.join(lines) + eol + eol
    body = draw(st.sampled_from((b"", b"<title>x</title>", b"5\r\nhello\r\n0\r\n\r\n",
                                 b"ffffffff\r\nx", b"\x1f\x8b\x08\x00", b"<title" + b" " * 9000)))
    return head + body


# ----------------------------------------------------------------------- XML-aware mutation

HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    st.sampled_from((
        "", " ", "\t\n", "onvif://www.onvif.org/mac/c0-56-e3-aa-bb-cc",
        "onvif://www.onvif.org/hardware/%00%ff%zz", "onvif://www.onvif.org/name/" + "%41" * 500,
        "urn:uuid:00000000-0000-1000-8000-c056e3aabbcc", "http://[::1/onvif/device_service",
        "0.0.0.0", "255.255.255.255", "192.0.2.300", "9" * 5000, "-1", "lock",
        "\u202e\u0000", "c0:56:e3:aa:bb:cc", "ff:ff:ff:ff:ff:ff")),
    st.integers(1, 20_000).map(lambda n: "x " * n),
)


def _xml_seeds(seeds: Sequence[bytes]) -> list[bytes]:
    from xml.etree import ElementTree as StdET  # the repo's own captures: trusted input

    good = []
    for seed in seeds:
        if b"<!DOCTYPE" in seed or b"<!ENTITY" in seed:  # the hostile captures stay byte-level
            continue
        try:
            StdET.fromstring(seed)
        except StdET.ParseError:
            continue
        good.append(seed)
    return good


@st.composite
def xml_mutated(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A well-formed capture (``seeds`` from :func:`_xml_seeds`) whose tree was edited
    (hostile text in random elements, elements duplicated, dropped, emptied or given many
    attributes), then serialised again: inputs that get past the XML parser into the field
    handling."""
    from xml.etree import ElementTree as StdET

    root = StdET.fromstring(draw(st.sampled_from(list(seeds))))
    parents = {child: parent for parent in root.iter() for child in parent}
    elements = list(root.iter())
    for _ in range(draw(st.integers(1, 6))):
        el = draw(st.sampled_from(elements))
        op = draw(st.sampled_from(("text", "text", "dup", "drop", "attrs", "clear")))
        parent = parents.get(el)
        if op == "text":
            el.text = draw(HOSTILE_TEXT)
        elif op == "dup" and parent is not None:
            for _ in range(draw(st.sampled_from((1, 2, 40)))):
                parent.append(el)
        elif op == "drop" and parent is not None and el in list(parent):
            parent.remove(el)
        elif op == "attrs":
            for i in range(draw(st.sampled_from((1, 50, 3000)))):
                el.set(f"a{i}", str(i))
        elif op == "clear":
            el.clear()
    return bytes(StdET.tostring(root, encoding="utf-8"))


def xml_inputs(seeds: Sequence[bytes], names: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Raw bytes, byte-level mutations, tree-level mutations and hostile documents."""
    good = _xml_seeds(seeds)
    return st.one_of(st.binary(max_size=2048), mutated(seeds), xml_mutated(good),
                     xml_mutated(good), hostile_xml(names))

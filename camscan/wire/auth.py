"""HTTP-style authentication challenges (``WWW-Authenticate``, also used by RTSP)."""

from __future__ import annotations

import re

# ``realm=`` at a parameter boundary (so ``myrealm=`` is not one), quoted (backslash escapes
# honoured, RFC 9110 quoted-string) or bare. Bounded repetition only.
_REALM = re.compile(
    r"""(?:^|[\s,])realm[ \t]{0,8}=[ \t]{0,8}(?:"((?:[^"\\]|\\.){0,1024})"|([^\s,"]{1,1024}))""",
    re.IGNORECASE,
)
_ESCAPED = re.compile(r"\\(.)")
MAX_CHALLENGE = 8192  # characters of one header value read


def parse_realms(www_authenticate: str) -> list[str]:
    """Each distinct ``realm`` in one ``WWW-Authenticate`` value (several challenges may share
    one header), in order: ``Digest qop="auth", realm="IP Camera(C2183)"`` ->
    ``["IP Camera(C2183)"]``. Never raises."""
    try:
        realms: list[str] = []
        for m in _REALM.finditer(www_authenticate[:MAX_CHALLENGE]):
            quoted, bare = m.group(1), m.group(2)
            realm = _ESCAPED.sub(r"\1", quoted) if quoted is not None else bare
            if realm is not None and realm not in realms:
                realms.append(realm)
        return realms
    except Exception:
        return []

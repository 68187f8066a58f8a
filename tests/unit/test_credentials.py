"""Credentials file loading, matching, secrecy, and the lockout ledger."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from camscan.credentials import (
    Credential,
    CredentialsError,
    LoginLedger,
    Secret,
    credential_store,
    load_credentials,
)
from camscan.probes.base import Settings

PW = "s3cret-Pa55!word"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "creds.toml"
    p.write_text(text, encoding="utf-8")
    p.chmod(mode)
    return p


def test_secret_never_shows() -> None:
    s = Secret(PW)
    cred = Credential("admin", s, "entry *")
    for shown in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>30}", "{}".format(s), repr(cred),  # noqa: UP032
                  str(cred), cred.label):
        assert PW not in shown
    assert s.reveal() == PW
    assert s == Secret(PW) and s != Secret("other")
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_most_specific_entry_wins(tmp_path: Path) -> None:
    path = write(tmp_path, f'''
[[device]]
target = "*"
username = "any"
password = "{PW}"

[[device]]
targets = ["10.1.2.0/24", "192.0.2.0/28"]
username = "site"
password_env = "SITE_PW"

[[device]]
target = "10.1.2.77"
username = "one"
password = "x"
''')
    store = load_credentials(path, env={"SITE_PW": "from-env"})
    assert store.lookup("10.1.2.77").username == "one"  # type: ignore[union-attr]
    site = store.lookup("10.1.2.5")
    assert site is not None and site.username == "site"
    assert site.password.reveal() == "from-env"
    assert store.lookup("192.0.2.3").username == "site"  # type: ignore[union-attr]
    assert store.lookup("172.16.0.1").username == "any"  # type: ignore[union-attr]
    assert store.lookup("not-an-ip") is None
    assert not store.warnings


def test_environment_default(tmp_path: Path) -> None:
    env = {"CAMSCAN_USERNAME": "envuser", "CAMSCAN_PASSWORD": PW}
    store = load_credentials(None, env=env)
    cred = store.lookup("10.0.0.1")
    assert cred is not None and cred.username == "envuser"
    path = write(tmp_path, '[[device]]\ntarget = "10.0.0.0/8"\nusername = "a"\npassword = "b"\n')
    store = load_credentials(path, env=env)
    assert store.lookup("10.0.0.1").username == "a"  # type: ignore[union-attr]
    assert store.lookup("192.0.2.1").username == "envuser"  # type: ignore[union-attr]
    assert load_credentials(None, env={}).lookup("10.0.0.1") is None
    assert not load_credentials(None, env={})


def test_loose_permissions_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, f'[[device]]\ntarget = "*"\nusername = "a"\npassword = "{PW}"\n',
                 mode=0o644)
    with caplog.at_level(logging.DEBUG):
        store = load_credentials(path, env={})
    assert store.warnings and "0644" in store.warnings[0] and "chmod 600" in store.warnings[0]
    assert "looser than 0600" in store.warnings[0]
    assert PW not in caplog.text and PW not in store.warnings[0]
    tight = write(tmp_path, f'[[device]]\ntarget = "*"\nusername = "a"\npassword = "{PW}"\n')
    assert not load_credentials(tight, env={}).warnings


@pytest.mark.parametrize(("text", "message"), [
    (f'[[device]]\ntarget = "*"\nusername = "a"\npassword = "{PW}\n', "not valid TOML"),
    (f'[[device]]\ntarget = "10.1.2.300"\nusername = "a"\npassword = "{PW}"\n',
     "is not an IP, a CIDR"),
    (f'[[device]]\ntarget = "*"\npassword = "{PW}"\n', "field 'username'"),
    ('[[device]]\ntarget = "*"\nusername = "a"\n', "exactly one of 'password'"),
    (f'[[device]]\ntarget = "*"\nusername = "a"\npassword = "{PW}"\npassword_env = "X"\n',
     "exactly one of 'password'"),
    ('[[device]]\ntarget = "*"\nusername = "a"\npassword_env = "NOPE_UNSET"\n',
     "NOPE_UNSET (password_env) is not set"),
    (f'[[device]]\ntarget = "*"\nusername = "a"\npasswd = "{PW}"\n', "unknown field"),
    (f'[[devices]]\ntarget = "*"\nusername = "a"\npassword = "{PW}"\n', "unknown table"),
    (f'[[device]]\nusername = "a"\npassword = "{PW}"\n', "field 'target'"),
    (f'[[device]]\ntarget = "*"\nusername = "a"\npassword = {{ v = "{PW}" }}\n',
     "field 'password': must be text"),
])
def test_errors_are_one_line_and_never_carry_the_password(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CredentialsError) as err:
        load_credentials(path, env={})
    shown = str(err.value)
    assert message in shown
    assert "\n" not in shown
    assert PW not in shown and PW not in repr(err.value)
    # no chained exception (whose text could quote the file) travels with the error
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="not found"):
        load_credentials(tmp_path / "nope.toml", env={})


def test_credential_store_from_settings() -> None:
    store = load_credentials(None, env={"CAMSCAN_USERNAME": "u", "CAMSCAN_PASSWORD": "p"})
    assert credential_store(Settings(credentials=store)) is store


async def test_ledger_one_attempt_and_cross_protocol() -> None:
    ledger = LoginLedger()
    cred = Credential("admin", Secret(PW), "entry *")
    other = Credential("admin2", Secret("x"), "entry 10.0.0.1")
    assert ledger.may_try("10.0.0.1", cred, "onvif") == (True, "")
    ledger.record("10.0.0.1", cred, "onvif", "rejected", "HTTP 400")
    assert ledger.may_try("10.0.0.1", cred, "isapi") == (
        False, "credential rejected by onvif; isapi not tried")
    assert ledger.may_try("10.0.0.1", cred, "onvif")[0] is False
    assert ledger.may_try("10.0.0.2", cred, "isapi")[0] is True
    assert ledger.may_try("10.0.0.1", other, "isapi")[0] is True
    ledger.record("10.0.0.3", cred, "isapi", "accepted")
    assert ledger.may_try("10.0.0.3", cred, "onvif")[0] is True
    ledger.record("10.0.0.4", cred, "isapi", "error", "ReadTimeout")
    ok, why = ledger.may_try("10.0.0.4", cred, "onvif")
    assert not ok and "unknown outcome" in why
    assert all(PW not in a.describe() for ip in ("10.0.0.1", "10.0.0.4")
               for a in ledger.attempts(ip))


def test_ledger_reservation_blocks_retries_until_settled() -> None:
    ledger = LoginLedger()
    cred = Credential("admin", Secret(PW), "entry *")
    pending = ledger.begin("10.0.0.9", cred, "onvif")
    ok, why = ledger.may_try("10.0.0.9", cred, "isapi")  # e.g. onvif was cancelled mid-login
    assert not ok and why == "earlier login attempt of unknown outcome by onvif; isapi not tried"
    ledger.settle("10.0.0.9", pending, "accepted", "digest")
    assert ledger.may_try("10.0.0.9", cred, "isapi") == (True, "")
    assert [a.result for a in ledger.attempts("10.0.0.9")] == ["accepted"]
    pending = ledger.begin("10.0.0.10", cred, "isapi")
    ledger.withdraw("10.0.0.10", pending)  # nothing left camscan
    assert ledger.attempts("10.0.0.10") == []
    assert ledger.may_try("10.0.0.10", cred, "onvif") == (True, "")

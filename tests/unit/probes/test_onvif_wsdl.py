"""The SOAP requests of the ONVIF probe, checked against the ONVIF device-service WSDL by zeep.

onvif-zeep-async (a test dependency: the probe writes its few envelopes itself, see
camscan/probes/onvif.py for why) ships ONVIF's ``devicemgmt.wsdl`` and the schemas it imports;
zeep loads them offline. For every operation the probe sends, the WSDL's SOAP 1.2 binding must
have it with the same SOAP action, zeep must accept camscan's envelope as that operation's input
message (strict), and camscan's envelope must equal the one zeep builds. The WS-Security
UsernameToken header must have the structure zeep's own ``UsernameToken`` writes, and zeep's
``PasswordDigest`` must be what camscan's formula gives for zeep's nonce and timestamp.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from camscan.probes import onvif

zeep: Any = pytest.importorskip("zeep")
# zeep is only partly typed: its names are used as Any here
parse_xml: Any = importlib.import_module("zeep.loader").parse_xml
Transport: Any = importlib.import_module("zeep.transports").Transport
UsernameToken: Any = importlib.import_module("zeep.wsse.username").UsernameToken

# What camscan's ONVIF probe sends (camscan/probes/onvif.py, run()): the clock first, then
# the three information calls, each without arguments.
OPERATIONS = ("GetSystemDateAndTime", "GetDeviceInformation", "GetNetworkInterfaces",
              "GetScopes")


class _Offline(Transport):  # type: ignore[misc]  # zeep's class is Any here
    """zeep's transport, refusing anything but the bundled files."""

    def load(self, url: str) -> bytes:
        if "://" in url and not url.startswith("file://"):
            raise AssertionError(f"the WSDL tried to fetch {url}")
        data: bytes = super().load(url)
        return data


@pytest.fixture(scope="module")
def client() -> Any:
    spec = importlib.util.find_spec("onvif")  # located, not imported (no side effects)
    assert spec is not None and spec.submodule_search_locations
    wsdl = Path(next(iter(spec.submodule_search_locations))) / "wsdl" / "devicemgmt.wsdl"
    return zeep.Client(str(wsdl), transport=_Offline(),
                       settings=zeep.Settings(strict=True, forbid_dtd=True,
                                              forbid_entities=True))


def _binding(client: Any) -> Any:
    return client.wsdl.bindings[f"{{{onvif.TDS}}}DeviceBinding"]


def _shape(el: Any) -> tuple[Any, ...]:
    """An element as (tag, attributes, text, children), prefixes ignored."""
    text = (el.text or "").strip()
    return (el.tag, dict(el.attrib), text, tuple(_shape(c) for c in el))


def _parse(xml: bytes, client: Any) -> Any:
    return parse_xml(xml, client.transport, settings=client.settings)


@pytest.mark.parametrize("op", OPERATIONS)
def test_operation_is_a_soap12_operation_of_the_wsdl_with_our_action(client: Any,
                                                                     op: str) -> None:
    binding = _binding(client)
    assert binding.nsmap["soap-env"] == onvif.SOAP12  # a SOAP 1.2 binding
    operation = binding.get(op)
    header = onvif.soap_headers(op)["Content-Type"]
    assert header.startswith("application/soap+xml")  # SOAP 1.2's media type
    assert f'action="{operation.soapaction}"' in header


@pytest.mark.parametrize("op", OPERATIONS)
def test_envelope_is_the_input_message_zeep_builds_and_accepts(client: Any, op: str) -> None:
    ours = _parse(onvif.envelope(op), client)
    theirs = client.create_message(client.service, op)
    assert _shape(ours) == _shape(theirs)
    (body,) = ours.iter(f"{{{onvif.SOAP12}}}Body")
    (request,) = body
    assert request.tag == _binding(client).get(op).input.body.qname
    client.get_element(request.tag).parse(request, client.wsdl.types)  # a schema element


def test_the_comparison_can_fail(client: Any) -> None:
    """An operation the WSDL does not define is refused; an extra child or another namespace
    makes the envelope differ from zeep's."""
    with pytest.raises(ValueError, match="GetNoSuchThing"):
        _binding(client).get("GetNoSuchThing")
    theirs = _shape(client.create_message(client.service, "GetScopes"))
    good = onvif.envelope("GetScopes")
    extra = good.replace(b"<tds:GetScopes/>", b"<tds:GetScopes><tds:X/></tds:GetScopes>")
    other_ns = good.replace(onvif.TDS.encode(), b"http://www.onvif.org/ver20/device/wsdl")
    assert _shape(_parse(good, client)) == theirs
    assert _shape(_parse(extra, client)) != theirs
    assert _shape(_parse(other_ns, client)) != theirs


def test_username_token_has_zeeps_structure_and_digest(client: Any) -> None:
    nonce = b"0123456789abcdef"  # zeep takes the nonce as text
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    ours = _parse(onvif.envelope("GetDeviceInformation",
                                 onvif.username_token("admin", "pa&ss", created, nonce)),
                  client)
    theirs = client.create_message(client.service, "GetDeviceInformation")
    token = UsernameToken("admin", "pa&ss", use_digest=True, nonce=nonce.decode(), created=created,
                          zulu_timestamp=True)
    theirs, _ = token.apply(theirs, {})

    def security(env: Any) -> Any:
        (sec,) = env.iter(f"{{{onvif.WSSE}}}Security")
        return sec

    def skeleton(el: Any) -> tuple[Any, ...]:
        return (el.tag, tuple(sorted(k for k in el.attrib if "mustUnderstand" not in k)),
                tuple(skeleton(c) for c in el))

    assert skeleton(security(ours)) == skeleton(security(theirs))
    # zeep's digest for its own nonce and Created is camscan's formula
    values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in security(theirs).iter()}
    want = base64.b64encode(hashlib.sha1(  # the WSS formula
        base64.b64decode(values["Nonce"]) + values["Created"].encode() + b"pa&ss"
    ).digest()).decode()
    assert values["Password"] == want
    ours_values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in security(ours).iter()}
    assert ours_values["Nonce"] == values["Nonce"]
    assert ours_values["Created"].replace(".000", "") == values["Created"]

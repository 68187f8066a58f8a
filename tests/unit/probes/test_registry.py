"""The probe registry (camscan.probes.registry): the one home of what each probe is."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from camscan import identify
from camscan.cli import main
from camscan.fingerprints import load_database, unproduced_keys
from camscan.net.tls import TLS_PORTS
from camscan.probes import REGISTRY, load_probes, registry
from camscan.probes.base import DEFAULT_PORTS, HostProbe, SegmentProbe, ServiceProbe


def test_one_spec_per_probe_in_load_order() -> None:
    probes = load_probes()
    assert [p.name for p in probes] == [s.name for s in registry.SPECS]
    assert REGISTRY == registry.modules()
    for probe in probes:
        spec = registry.spec(probe.name)
        assert probe.description == spec.summary
        assert probe.opt_in == spec.credentials, probe.name
        if isinstance(probe, ServiceProbe):
            assert probe.ports == frozenset(spec.default_ports + spec.other_ports), probe.name
            assert spec.transport == "tcp"
        elif isinstance(probe, SegmentProbe):
            assert spec.transport in ("multicast", "raw"), probe.name
        else:
            assert isinstance(probe, HostProbe)
            assert spec.transport in ("tcp", "udp", "raw"), probe.name
            assert not spec.default_ports + spec.other_ports, "host probes claim no ports"


def test_every_key_is_documented_once_per_probe() -> None:
    for spec in registry.SPECS:
        keys = [k.key for k in spec.keys]
        assert len(keys) == len(set(keys)), spec.name
        assert all(k.doc.strip() for k in spec.keys), spec.name


def test_derived_values_are_the_ones_camscan_used_before() -> None:
    # the literals these replaced (base.DEFAULT_PORTS, identify.PORT_SERVICES, the UDP probe
    # names in identify, the command layer's credentialed probe list): the derivation changes
    # nothing
    assert DEFAULT_PORTS == (80, 81, 82, 83, 84, 85, 88, 443, 554, 5554, 8000, 8001, 8080, 8081,
                             8088, 8443, 8554, 37777)
    assert identify.PORT_SERVICES == {
        80: "http", 81: "http", 82: "http", 83: "http", 84: "http", 85: "http", 88: "http",
        443: "https", 554: "rtsp", 5554: "rtsp", 8554: "rtsp", 8000: "hikvision-sdk",
        8001: "http", 8080: "http", 8081: "http", 8088: "http", 8443: "https",
        37777: "dahua-dvrip"}
    assert identify.UDP_PROBES == {"wsd", "wsd-unicast", "mdns", "mdns-unicast", "sadp", "dhip",
                                   "ssdp", "ssdp-unicast", "snmp"}
    assert registry.CREDENTIALED_PROBES == ("onvif", "isapi", "snmp")
    assert identify.INFORMATIVE_KEYS == {
        "http.header.server", "http.realm", "http.title", "rtsp.server", "rtsp.realm",
        "tls.subject", "sdk.banner", "wsd.scope", "mdns.instance", "sadp.model",
        "dhip.model", "onvif.manufacturer", "onvif.model", "isapi.model", "mac.vendor",
        "dhip.vendor", "sadp.oeminfo", "onvif.auth", "isapi.auth", "onvif.clock_skew",
        "ssdp.server", "upnp.manufacturer", "upnp.model_name", "upnp.friendly_name",
        "snmp.sysdescr", "snmp.sysobjectid", "snmp.auth",
        "tcp.refused"}  # new: a host that only refused connections is listed, and says why
    assert frozenset(registry.spec("tls").default_ports) == TLS_PORTS


def test_web_ports_have_one_home_the_http_probes_spec() -> None:
    """Issue 13: the http probe and the credentialed probes (ONVIF, ISAPI) use one set of web
    ports, the http spec's (swept by default, or probed when a sweep's --ports found them
    open); camscan.net.http keeps only the HTTPS-first subset."""
    import camscan.net.http as net_http
    from camscan.probes import http, isapi, onvif

    web = registry.web_ports()
    # the union the credentialed probes used before (camscan.net.http's WEB_PORTS)
    assert web == frozenset({80, 81, 82, 83, 84, 85, 86, 87, 88, 443, 8001, 8080,
                             *range(8081, 8091), 8443, 9000})
    assert http.WEB_PORTS == isapi.WEB_PORTS == onvif.WEB_PORTS == web
    assert not hasattr(net_http, "WEB_PORTS") and not hasattr(net_http, "HTTP_PORTS")
    assert net_http.HTTPS_PORTS <= web and 8000 not in web  # 8000: the Hikvision SDK's
    http_spec = registry.spec("http")
    assert set(http_spec.default_ports) <= web and set(http_spec.other_ports) <= web
    # the other ports are not swept by default, and no other probe claims them (so the http
    # probe claiming them is what its fallback already did)
    assert not set(http_spec.other_ports) & set(DEFAULT_PORTS)
    others = {p for s in registry.SPECS if s.name != "http"
              for p in s.default_ports + s.other_ports}
    assert not set(http_spec.other_ports) & others
    # what the credentialed probes do with it: web ports only, plain HTTP before HTTPS
    from tests.unit.probes._discovery import host_ctx

    ctx = host_ctx()
    ctx.open_ports.update({80, 443, 554, 8000, 9000})
    assert isapi.candidate_ports(ctx) == [80, 9000, 443]
    assert [e.port for e in onvif.endpoints(ctx)] == [80, 9000, 443]


def test_produces() -> None:
    assert registry.produces("http.header.server")
    assert registry.produces("http.isapi.body")  # a vendor path (http-paths.yaml)
    assert registry.produces("http.dahua.realm")
    assert registry.produces("sadp.softwareversion")  # sadp.<field>
    assert registry.produces("isapi.telecontrolid")
    assert not registry.produces("sadp")
    assert not registry.produces("sadp.")
    assert not registry.produces("http.header.sever")  # a typo
    assert not registry.produces("http.nosuchvendor.body")


def test_http_paths_are_data() -> None:
    paths = registry.http_paths()
    assert [(p.prefix, p.path) for p in paths] == [
        ("http.isapi", "/ISAPI/Security/userCheck"),
        ("http.dahua", "/cgi-bin/magicBox.cgi?action=getMachineName")]
    assert all(p.vendor and p.references for p in paths)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ([], "expected a mapping"),
        ({"paths": [], "extra": 1}, "expected a mapping"),
        ({"paths": [{"prefix": "http.x"}]}, "expected prefix, path"),
        ({"paths": [{"prefix": "http.x", "path": "/a", "verb": "POST"}]}, "expected prefix"),
        ({"paths": [{"prefix": "isapi", "path": "/a"}]}, "prefix must be http."),
        ({"paths": [{"prefix": "http.X", "path": "/a"}]}, "prefix must be http."),
        ({"paths": [{"prefix": "http.x", "path": "a"}]}, "absolute request path"),
        ({"paths": [{"prefix": "http.x", "path": "/a b"}]}, "absolute request path"),
        ({"paths": [{"prefix": "http.x", "path": "/a"}, {"prefix": "http.x", "path": "/b"}]},
         "used twice"),
        ({"paths": [{"prefix": "http.x", "path": "/a", "references": "one"}]},
         "references a list"),
    ],
)
def test_http_paths_schema(data: object, complaint: str) -> None:
    with pytest.raises(registry.PathsError, match=complaint):
        registry.parse_http_paths(data)


RULE_ON_A_TYPO = """\
    rules:
      - id: t.typo
        description: a rule on a key no probe produces (http.header.sever)
        manufacturer: Hikvision
        weight: 0.5
        matchers:
          - key: http.header.sever
            word: Webs
        examples:
          - match: "Webs"
          - nomatch: "Apache"
    """


def test_fingerprints_check_flags_a_key_no_probe_produces(tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(textwrap.dedent(RULE_ON_A_TYPO), encoding="utf-8")
    db = load_database([tmp_path], include_default=False)
    problems = unproduced_keys(db)
    assert len(problems) == 1 and "t.typo" in problems[0] and "http.header.sever" in problems[0]
    result = CliRunner().invoke(main, ["fingerprints", "check", "--no-default", str(tmp_path)])
    assert result.exit_code == 2
    assert "no probe produces key 'http.header.sever'" in result.output


def test_shipped_rules_use_produced_keys() -> None:
    from camscan.fingerprints import shipped_database

    assert unproduced_keys(shipped_database()) == []

"""The one place the passive package imports the active probes' parsers.

Wherever a capture holds the same bytes an active probe reads (an HTTP response head, an RTSP
reply, a TLS Certificate message, a WS-Discovery, mDNS, SADP, DHIP or SSDP search-answer
datagram, a UPnP device description, an ARP reply),
the passive extractors call the probe's own parser and observation builder, so the evidence of
a capture and of a sweep cannot drift apart. Pure wire parsers come from their home in
:mod:`camscan.wire`; observation builders from the probe that owns the keys; the http probe's
vendor paths (``/ISAPI/Security/userCheck`` ...) from the registry, as the probe reads them.
"""

from __future__ import annotations

from camscan.oui import vendor_of
from camscan.probes.arp import mac_observations, parse_arp_reply
from camscan.probes.dhip import PORT as DHIP_PORT
from camscan.probes.dhip import observations as dhip_observations
from camscan.probes.dhip import parse_reply as parse_dhip_reply
from camscan.probes.dvrip import observations_for as dvrip_observations
from camscan.probes.dvrip import parse_dvrip_banner
from camscan.probes.http import FAVICON_PATH, chain_observations, reply_observations
from camscan.probes.mdns import PORT as MDNS_PORT
from camscan.probes.mdns import observations_for as mdns_observations
from camscan.probes.mdns import parse_response as parse_mdns_response
from camscan.probes.registry import HttpPath, http_paths
from camscan.probes.rtsp import header_end, parse_rtsp_response
from camscan.probes.rtsp import observations_for as rtsp_observations
from camscan.probes.sadp import PORT as SADP_PORT
from camscan.probes.sadp import observations as sadp_observations
from camscan.probes.sadp import parse_probe_match as parse_sadp_match
from camscan.probes.sdk import observations_for as sdk_observations
from camscan.probes.sdk import parse_sdk_reply
from camscan.probes.ssdp import answer_rows as ssdp_answer_rows
from camscan.probes.ssdp import description_rows as upnp_description_rows
from camscan.probes.ssdp import location_target as ssdp_location_target
from camscan.probes.ssdp import parse_description as parse_upnp_description
from camscan.probes.ssdp import parse_response as parse_ssdp_answer
from camscan.probes.wsd import PORT as WSD_PORT
from camscan.probes.wsd import observations as wsd_observations
from camscan.probes.wsd import parse_announcements
from camscan.wire.http import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    Reply,
    favicon_hashes,
    header_values,
    parse_raw_response,
    redirect_target,
)
from camscan.wire.mac import normalise_mac
from camscan.wire.x509 import certificate_observations

__all__ = [
    "DHIP_PORT", "FAVICON_PATH", "MAX_REDIRECTS", "MDNS_PORT", "REDIRECT_STATUSES", "SADP_PORT",
    "WSD_PORT", "HttpPath", "Reply", "certificate_observations", "chain_observations",
    "dhip_observations", "dvrip_observations", "favicon_hashes", "header_end", "header_values",
    "http_paths", "mac_observations", "mdns_observations", "normalise_mac",
    "parse_announcements", "parse_arp_reply", "parse_dhip_reply", "parse_dvrip_banner",
    "parse_mdns_response", "parse_raw_response", "parse_rtsp_response", "parse_sadp_match",
    "parse_sdk_reply", "parse_ssdp_answer", "parse_upnp_description", "redirect_target",
    "reply_observations", "rtsp_observations", "sadp_observations", "sdk_observations",
    "ssdp_answer_rows", "ssdp_location_target", "upnp_description_rows", "vendor_of",
    "wsd_observations",
]

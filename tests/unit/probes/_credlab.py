"""Helpers shared by the ONVIF / ISAPI probe tests: a host context against the lab."""

from __future__ import annotations

from camscan.credentials import Credential, CredentialStore, Secret, _Entry
from camscan.probes.base import HostContext, RateLimiter, Settings, SweepShared


def store_for(ip: str, username: str, password: str) -> CredentialStore:
    import ipaddress

    cred = Credential(username, Secret(password), f"entry {ip}")
    return CredentialStore(entries=[_Entry(ipaddress.ip_network(ip), cred)])


def context(ip: str, port: int, store: CredentialStore | None,
            shared: SweepShared | None = None, *, timeout: float = 5.0) -> HostContext:
    settings = Settings(timeout=timeout, connect_timeout=1.0, read_timeout=2.0,
                        credentials=store or CredentialStore())
    shared = shared or SweepShared(settings=settings, scope=None, limiter=RateLimiter(1000))
    ctx = HostContext(ip, shared)
    ctx.open_ports.add(port)
    return ctx

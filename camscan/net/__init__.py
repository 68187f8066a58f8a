"""Network plumbing shared by the probes: failure classification, the permissive TLS context,
the HTTP client transport, UDP sockets and the multicast discovery round.

Nothing here imports probes, the engine, identification or the CLI.
"""

"""Pure parsing of what devices send: MAC addresses, XML, HTTP auth challenges.

Nothing here touches the network or imports probes, the engine or the CLI; every function is
pure and never raises on hostile input.
"""

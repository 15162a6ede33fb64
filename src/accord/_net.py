"""Network-address rules shared by the server and the client (no I/O)."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``).

    Plain ``http://`` is tolerated only toward such hosts where HTTPS is otherwise
    required (keys, token endpoints): traffic to them never leaves the machine.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

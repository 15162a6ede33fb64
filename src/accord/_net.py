"""Network-address rules shared by the server and the client (no I/O).

:data:`ADDRESS_RULES` is the table of address classes outbound requests may not reach
(loopback, private, cloud metadata, ...), which :mod:`accord.egress` enforces and
exports; :func:`is_loopback_host` says where plain ``http://`` is tolerated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final, TypeAlias

__all__ = [
    "ADDRESS_RULES",
    "AddressRule",
    "IPAddress",
    "IPNetwork",
    "address_class",
    "is_loopback_host",
    "judge_address",
    "literal_address",
]

IPAddress: TypeAlias = IPv4Address | IPv6Address
IPNetwork: TypeAlias = IPv4Network | IPv6Network
_Extract: TypeAlias = Callable[[IPv6Address], IPv4Address]


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


@dataclass(frozen=True, slots=True)
class AddressRule:
    """A row of :data:`ADDRESS_RULES`: a class of addresses requests may not reach.

    ``name`` reads in messages as "is a <name> address". ``networks`` is empty for the
    catch-all row, which matches what ``ipaddress`` does not call globally reachable.
    ``embedded`` extracts the IPv4 address an IPv6 form carries: that address is then
    judged by the IPv4 rows instead of the class being refused outright.
    """

    name: str
    networks: tuple[IPNetwork, ...]
    embedded: _Extract | None = None

    def matches(self, address: IPAddress) -> bool:
        """Whether ``address`` falls in this class."""
        if not self.networks:
            return not address.is_global
        return any(address in network for network in self.networks)


def _low32(address: IPv6Address) -> IPv4Address:
    # IPv4-mapped (RFC 4291 §2.5.5.2) and NAT64 /96 (RFC 6052 §2.2): the last 32 bits.
    return IPv4Address(int(address) & 0xFFFF_FFFF)


def _sixtofour(address: IPv6Address) -> IPv4Address:
    # 6to4 (RFC 3056 §2): 2002:AABB:CCDD::/48 carries AA.BB.CC.DD in bits 16-47.
    return IPv4Address((int(address) >> 80) & 0xFFFF_FFFF)


def _rule(name: str, networks: str, embedded: _Extract | None = None) -> AddressRule:
    return AddressRule(
        name, tuple(map(ipaddress.ip_network, networks.split())), embedded
    )


# fmt: off
#: The refused address classes. The first row that matches names the class, so narrow
#: rows come before the wide ones holding them (the metadata address before
#: link-local; ``::1`` and ``::`` before ``::/96``; IPv4-mapped before ``::/3``).
ADDRESS_RULES: Final[tuple[AddressRule, ...]] = (
    # AWS/GCP/Azure/Oracle IMDS, AWS ECS credentials, Alibaba, Azure wire server.
    _rule("cloud metadata", "169.254.169.254/32 169.254.170.2/32 100.100.100.200/32 168.63.129.16/32 fd00:ec2::254/128"),
    _rule("loopback", "127.0.0.0/8 ::1/128"),
    _rule("unspecified ('this network')", "0.0.0.0/8 ::/128"),
    _rule("private", "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"),
    _rule("link-local", "169.254.0.0/16 fe80::/10"),
    _rule("multicast", "224.0.0.0/4 ff00::/8"),
    _rule("shared (CGNAT)", "100.64.0.0/10"),
    _rule("broadcast", "255.255.255.255/32"),
    _rule("IETF protocol", "192.0.0.0/24"),
    _rule("benchmarking", "198.18.0.0/15 2001:2::/48"),
    _rule("documentation", "192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 2001:db8::/32 3fff::/20"),
    _rule("IPv4-mapped", "::ffff:0:0/96", _low32),
    # Deprecated (RFC 4291 §2.5.5.1); some stacks still tunnel it to the IPv4 address.
    _rule("IPv4-compatible", "::/96"),
    _rule("6to4", "2002::/16", _sixtofour),
    _rule("NAT64", "64:ff9b::/96 64:ff9b:1::/96", _low32),
    # RFC 8215 lets a local NAT64 embed the IPv4 address at any RFC 6052 offset in this
    # /48; only its first /96 has a layout readable without knowing the deployment.
    _rule("local-use NAT64", "64:ff9b:1::/48"),
    # The client address is obfuscated and the relay is someone else's (RFC 4380).
    _rule("Teredo", "2001::/32"),
    # IPv4 class E; IPv6 outside global unicast 2000::/3 (RFC 4291 §2.4) not named
    # above: unassigned space, deprecated site-local fec0::/10, discard-only 100::/64.
    _rule("reserved", "240.0.0.0/4 ::/3 4000::/2 8000::/1"),
    AddressRule("non-global", ()),  # the catch-all: not ipaddress's is_global
)
# fmt: on


def _first_rule(address: IPAddress) -> AddressRule | None:
    return next((rule for rule in ADDRESS_RULES if rule.matches(address)), None)


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address, when it is one written the standard way."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _article(name: str) -> str:
    return "an" if name[0].lower() in "aeiou" else "a"


def judge_address(address: IPAddress) -> tuple[str, str] | None:
    """``(class name, phrase)`` for a refused address, ``None`` for an allowed one."""
    if isinstance(address, IPv6Address) and address.scope_id is not None:
        address = IPv6Address(int(address))  # the class ignores the zone
    rule = _first_rule(address)
    if rule is None:
        return None
    if rule.embedded is None or not isinstance(address, IPv6Address):
        return rule.name, f"{_article(rule.name)} {rule.name} address"
    carried = rule.embedded(address)
    inner = _first_rule(carried)
    if inner is None:
        return None
    return inner.name, (
        f"{_article(inner.name)} {inner.name} address ({carried}, embedded in"
        f" {_article(rule.name)} {rule.name} address)"
    )


def address_class(address: str | IPAddress) -> str | None:
    """The name of the refused class ``address`` falls in, or ``None`` if allowed.

    An IPv6 form that carries an IPv4 address (IPv4-mapped, 6to4, NAT64) is named by
    the carried address's class: ``::ffff:127.0.0.1`` is ``"loopback"``.

    Raises:
        ValueError: ``address`` is not an IP address.
    """
    if isinstance(address, str):
        address = ipaddress.ip_address(address)
    verdict = judge_address(address)
    return None if verdict is None else verdict[0]

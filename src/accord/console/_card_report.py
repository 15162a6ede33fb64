"""What the console says about a card: validation results and signature status.

:func:`inspect_card` reads the card JSON as fetched and returns a
:class:`CardReport`: the checks (each ``ok``, ``warning`` or ``error``), whether a
client can use the card, and its signature status:

* ``unsigned``: the card carries no signature (spec §8.4 makes signing optional);
* ``verified``: a signature verifies with a key the console trusts (``--trust``);
* ``self-signed``: no trust anchor is configured, but a signature verifies with the
  key the agent publishes itself (``/.well-known/jwks.json`` at the card's origin):
  the card is intact, yet nothing says whose key that is;
* ``unverified``: signed, no trust anchor is configured, and the agent's published
  keys cannot be read (a warning);
* ``invalid``: no signature verifies (the reason is the
  :class:`~accord.errors.SecurityError` the verifier raised): an error, and the
  console does not talk to the agent.

The checks are a table (:data:`CHECKS`) of pure functions of the decoded card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from accord._net import is_loopback_host
from accord.client.card import (
    decode_card,
    fetch_jwks,
    suitable_interfaces,
    unversioned,
)
from accord.errors import CardError, SecurityError, TransportError

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from accord.client import ClientTimeouts
    from accord.security import TrustStore
    from accord.types import AgentCard

__all__ = ["CHECKS", "CardReport", "Check", "inspect_card"]

Level = Literal["ok", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Check:
    """One finding about the card."""

    level: Level
    message: str


@dataclass(frozen=True, slots=True)
class CardReport:
    """The card as received, the findings, and the signature status."""

    url: str
    card: Any
    checks: tuple[Check, ...]
    usable: bool
    signature: str
    signature_detail: str

    def to_json(self) -> dict[str, Any]:
        """The report for the page."""
        return {
            "url": self.url,
            "card": self.card,
            "checks": [{"level": c.level, "message": c.message} for c in self.checks],
            "usable": self.usable,
            "signature": {"status": self.signature, "detail": self.signature_detail},
        }


def _interfaces(card: AgentCard) -> Check:
    try:
        usable = suitable_interfaces(card)
    except CardError as exc:
        return Check("error", str(exc))
    first = usable[0]
    return Check(
        "ok",
        f"{len(usable)} usable interface(s); the console talks "
        f"{first.protocol_binding} at {first.url}",
    )


def _versions(card: AgentCard) -> Check:
    missing = [i.url for i in card.supported_interfaces if unversioned(i)]
    if missing:
        return Check(
            "warning",
            "no protocolVersion (required by spec §8.3.1) for " + ", ".join(missing),
        )
    return Check("ok", "every interface states its protocol version")


def _plain_http(card: AgentCard) -> Check:
    plain = [
        i.url
        for i in card.supported_interfaces
        if urlsplit(i.url).scheme == "http"
        and not is_loopback_host(urlsplit(i.url).hostname or "")
    ]
    if plain:
        return Check(
            "warning",
            "plain http off loopback (spec §7.1 requires TLS in production): "
            + ", ".join(plain),
        )
    return Check("ok", "interfaces use https (or loopback)")


def _skills(card: AgentCard) -> Check:
    if not card.skills:
        return Check("warning", "the card lists no skills")
    return Check("ok", f"{len(card.skills)} skill(s)")


def _security(card: AgentCard) -> Check:
    if not card.security_requirements:
        return Check("ok", "no credentials required")
    wanted = sorted(
        {
            name
            for requirement in card.security_requirements
            for name in requirement.schemes
        }
    )
    return Check("ok", "credentials required: " + ", ".join(wanted))


#: The checks, in the order the page lists them.
CHECKS: tuple[Callable[[AgentCard], Check], ...] = (
    _interfaces,
    _versions,
    _plain_http,
    _skills,
    _security,
)


async def _signature(
    data: Any,
    card_url: str,
    http: httpx.AsyncClient,
    trust: TrustStore | None,
    timeouts: ClientTimeouts,
) -> tuple[str, str]:
    from accord.security import TrustStore, verify_card

    if not isinstance(data, dict) or not data.get("signatures"):
        return "unsigned", "the card carries no signature (spec §8.4)"
    status = "verified"
    if trust is None:
        parts = urlsplit(card_url)
        jwks_url = f"{parts.scheme}://{parts.netloc}/.well-known/jwks.json"
        try:
            keys = await fetch_jwks(http, jwks_url, timeouts=timeouts)
        except (CardError, TransportError, ValueError) as exc:
            return "unverified", f"signed, but the agent's keys cannot be read: {exc}"
        trust = TrustStore(keys=keys)
        status = "self-signed"
    try:
        verified = verify_card(data, trust)
    except SecurityError as exc:
        return "invalid", f"{type(exc).__name__}: {exc}"
    whose = (
        "a trusted key"
        if status == "verified"
        else "the key the agent publishes (not a trust anchor: pin it with --trust)"
    )
    return (
        status,
        f"signature {verified.index + 1} verifies ({verified.alg}, kid {verified.kid}) with {whose}",
    )


async def inspect_card(
    content: bytes,
    card_url: str,
    http: httpx.AsyncClient,
    *,
    trust: TrustStore | None,
    timeouts: ClientTimeouts,
) -> tuple[CardReport, AgentCard | None]:
    """The report on the card ``content`` fetched from ``card_url``, and the card
    (None when it does not decode)."""
    from accord.types import decode_json

    try:
        data: Any = decode_json(content)
    except Exception:
        data = None
    try:
        card = decode_card(content, f"the card at {card_url}")
    except CardError as exc:
        report = CardReport(
            card_url, data, (Check("error", str(exc)),), False, "unsigned", ""
        )
        return report, None
    checks = [Check("ok", "the card decodes as an A2A 1.0 AgentCard")]
    if isinstance(data, dict) and not data.get("supportedInterfaces"):
        checks[0] = Check("warning", "a v0.3 card (read through the v0.3 conversion)")
    checks.extend(check(card) for check in CHECKS)
    status, detail = await _signature(data, card_url, http, trust, timeouts)
    if status == "invalid":
        checks.append(Check("error", f"signature: {detail}"))
    elif status == "unverified":
        checks.append(Check("warning", f"signature: {detail}"))
    usable = not any(c.level == "error" for c in checks)
    return CardReport(card_url, data, tuple(checks), usable, status, detail), card

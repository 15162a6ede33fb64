"""What a registry keeps and how it is asked: entries, versions, health, queries.

Theory of operation. A registry indexes agent cards per *tenant* (``""`` is the
public registry; any other tenant is a private one, see :mod:`.app`). An agent is
named by an *identifier*, a URN in the ARD catalog form
``urn:air:<publisher>:<namespace>:<name>`` (:func:`agent_identifier`), derived from
the card so that the same agent registered twice lands on the same entry.

Each card it ever saw is a :class:`CardVersion` with its pin
(:func:`accord.security.card_pin`) and the structural diff from the version before
(:func:`accord.security.diff_cards`); the :class:`Entry` is the latest version plus
what the registry observed (:class:`Health`).

Search is free text (ranked by the store's full-text engine) plus exact filters on
the card's facets, one table of them (:data:`FILTER_FIELDS`): the store indexes each
card's values per field and a :class:`SearchQuery` asks for all of its values
(``AND``, within a field and across fields). Pages are keyset cursors
(:func:`encode_cursor`): the sort key of the last hit, so a page never repeats or
skips an entry that was there when the first page was read.

This module does no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from accord.client.card import WELL_KNOWN_PATH
from accord.protocol.handshake import GUARANTEES_EXTENSION, Guarantees
from accord.server.auth.verifier import scheme_kind

if TYPE_CHECKING:
    from accord.types import AgentCard

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FILTER_FIELDS",
    "MAX_PAGE_SIZE",
    "CardVersion",
    "Entry",
    "Health",
    "Hit",
    "SearchPage",
    "SearchQuery",
    "Status",
    "agent_identifier",
    "agent_path",
    "decode_cursor",
    "encode_cursor",
    "host_identifier",
    "index_terms",
    "search_tokens",
    "text_fields",
]

#: Hits per page when the query does not say, and the most a page may hold.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Status(StrEnum):
    """An agent's liveness as the registry last observed it."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Health:
    """What the last re-fetch of an agent's card observed.

    Attributes:
        status: up (the card was served), down (it was not), unknown (never checked).
        checked_at: Unix time of the last check, ``None`` before the first.
        latency_ms: how long the last successful fetch took.
        next_check_at: when the card is due again (its ``max-age``, or the default).
        etag: the card response's ``ETag``, sent back as ``If-None-Match``.
        failures: checks failed in a row.
        error: why the last check failed (empty when it did not).
    """

    status: Status = Status.UNKNOWN
    checked_at: float | None = None
    latency_ms: float | None = None
    next_check_at: float = 0.0
    etag: str | None = None
    failures: int = 0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The health as a JSON object."""
        return {
            "status": self.status.value,
            "checkedAt": self.checked_at,
            "latencyMs": self.latency_ms,
            "nextCheckAt": self.next_check_at,
            "failures": self.failures,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class CardVersion:
    """One version of an agent's card, as the registry recorded it.

    Attributes:
        number: 1 for the first card seen, then one more per change.
        pin: the card's pin (``sha256:...``, without signatures).
        card_json: the card as received (signatures kept, so it can be re-verified).
        diff: :meth:`accord.security.CardDiff.to_json` from the previous version
            (``None`` for the first).
        version_unchanged: the card changed but its ``version`` did not (drift).
        breaking: the change breaks partners (:attr:`accord.security.Impact.BREAKING`).
        recorded_at: Unix time it was recorded.
    """

    number: int
    pin: str
    card_json: str
    diff: Mapping[str, Any] | None
    version_unchanged: bool
    breaking: bool
    recorded_at: float

    def to_json(self) -> dict[str, Any]:
        """The version as a JSON object (the card itself left out)."""
        return {
            "number": self.number,
            "pin": self.pin,
            "versionUnchanged": self.version_unchanged,
            "breaking": self.breaking,
            "recordedAt": self.recorded_at,
            "diff": dict(self.diff) if self.diff is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    """A registered agent: its latest card and what the registry knows about it.

    Attributes:
        tenant: the registry it belongs to (``""``: the public one).
        identifier: its URN (:func:`agent_identifier`).
        card: the latest card.
        card_json: the latest card as received.
        pin: the latest card's pin.
        version: the latest :attr:`CardVersion.number`.
        source_url: where its card is fetched (``None`` for a published card, which
            is never re-fetched).
        signed_by: the ``kid`` of the key that verified the card, ``None`` unsigned.
        drift: the latest change came without a version bump.
        breaking: the latest change breaks partners.
        registered_at: when it was first registered.
        updated_at: when its latest version was recorded.
        health: the last re-fetch's observations.
    """

    tenant: str
    identifier: str
    card: AgentCard
    card_json: str
    pin: str
    version: int
    source_url: str | None
    signed_by: str | None
    drift: bool
    breaking: bool
    registered_at: float
    updated_at: float
    health: Health = field(default_factory=Health)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the entry and its relevance (0-100, higher is better).

    The score is the full-text engine's rank mapped onto 0-100; it orders results
    and says nothing about trust (ARD says the same of its ``score``).
    """

    entry: Entry
    score: int


@dataclass(frozen=True, slots=True)
class SearchPage:
    """A page of hits, best first, and the cursor of the next page (``None``: last)."""

    hits: tuple[Hit, ...]
    next_cursor: str | None


# --- filters ----------------------------------------------------------------------


def _modes(card: AgentCard, which: str) -> set[str]:
    default: tuple[str, ...] = getattr(card, f"default_{which}_modes")
    out = set(default)
    for skill in card.skills:
        out.update(getattr(skill, f"{which}_modes") or default)
    return out


def _schemes(card: AgentCard) -> set[str]:
    return {scheme_kind(s) for s in card.security_schemes.values()} | set(
        card.security_schemes
    )


def _versions(card: AgentCard) -> set[str]:
    return {i.protocol_version for i in card.supported_interfaces if i.protocol_version}


def _promised(card: AgentCard, which: str) -> set[str]:
    """The residency or compliance tags the card's guarantees extension declares
    (none when it declares none, or not in the extension's shape)."""
    for extension in card.capabilities.extensions:
        if extension.uri == GUARANTEES_EXTENSION and extension.params:
            try:
                declared, _ = Guarantees.from_params(extension.params)
            except ValueError:
                return set()
            return set(getattr(declared, which))
    return set()


_Extract = Callable[["AgentCard"], set[str]]

#: Every filter a search takes: the name a query uses (ARD ``query.filter`` keys, CLI
#: flags, facets) and how the card's values of it are read.
FILTER_FIELDS: Mapping[str, _Extract] = MappingProxyType(
    {
        "skill": lambda c: {s.id for s in c.skills},
        "tag": lambda c: {t for s in c.skills for t in s.tags},
        "inputMode": lambda c: _modes(c, "input"),
        "outputMode": lambda c: _modes(c, "output"),
        "provider": lambda c: {c.provider.organization} if c.provider else set(),
        # Both the scheme's kind (apiKey, oauth2, ...) and its name in the card.
        "securityScheme": _schemes,
        "protocolVersion": _versions,
        "binding": lambda c: {i.protocol_binding for i in c.supported_interfaces},
        # What the guarantees extension declares (urn:accord:a2a:guarantees:v1).
        "residency": lambda c: _promised(c, "residency"),
        "compliance": lambda c: _promised(c, "compliance"),
    }
)


def index_terms(card: AgentCard) -> list[tuple[str, str]]:
    """The ``(field, value)`` pairs a store indexes for ``card``'s filters."""
    return sorted(
        (name, value)
        for name, extract in FILTER_FIELDS.items()
        for value in extract(card)
        if value
    )


def text_fields(card: AgentCard) -> tuple[str, str, str]:
    """The card's searchable text in three weights: name, skills, everything else.

    A word in the agent's name counts most, one in a skill's name, id or tags next,
    and descriptions and examples least (the stores' column weights).
    """
    skills = " ".join(" ".join((s.id, s.name, *s.tags)) for s in card.skills).strip()
    body = " ".join(
        part
        for part in (
            card.description,
            card.provider.organization if card.provider else "",
            *(s.description for s in card.skills),
            *(e for s in card.skills for e in s.examples),
        )
        if part
    )
    return card.name, skills, body


_TOKEN = re.compile(r"\w+")
#: Words of a free-text query that are searched; the rest are ignored.
MAX_TOKENS = 32


#: Words too common to search for. PostgreSQL's ``english`` configuration drops
#: them; SQLite's tokenizer does not, so they are dropped here for both to agree.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)


def search_tokens(text: str) -> list[str]:
    """The words of a free-text query (letters, digits, underscore), at most 32.

    Only words go to the full-text engines, so no query syntax of theirs can be
    injected; stop words are dropped (:data:`STOP_WORDS`); a hit needs any one of
    the rest, and more (or rarer) matches rank higher.
    """
    words = (t.lower() for t in _TOKEN.findall(text))
    return [w for w in words if w not in STOP_WORDS][:MAX_TOKENS]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A search: free text, filters and a page.

    Attributes:
        text: words to look for (:func:`search_tokens`); empty lists every agent,
            by identifier.
        filters: :data:`FILTER_FIELDS` name -> values the card must all have.
        limit: hits per page (1-100).
        cursor: the ``next_cursor`` of the previous page.

    Raises:
        ValueError: an unknown filter or a limit out of range.
    """

    text: str = ""
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.filters) - set(FILTER_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown filter {', '.join(unknown)} (known: "
                f"{', '.join(FILTER_FIELDS)})"
            )
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"page size must be 1 to {MAX_PAGE_SIZE}")
        frozen = {k: tuple(v) for k, v in self.filters.items() if v}
        object.__setattr__(self, "filters", MappingProxyType(frozen))
        if self.cursor is not None:
            decode_cursor(self.cursor)  # fail now, not in the store

    @property
    def terms(self) -> list[tuple[str, str]]:
        """Every ``(field, value)`` a hit must have."""
        return [(k, v) for k, values in self.filters.items() for v in values]


def encode_cursor(rank: float, identifier: str) -> str:
    """The cursor after the hit with this sort key."""
    raw = json.dumps([rank, identifier], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The sort key in ``cursor``, or :class:`ValueError`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, identifier = json.loads(raw)
        if isinstance(rank, bool) or not isinstance(rank, int | float):
            raise TypeError
        if not isinstance(identifier, str):
            raise TypeError
    except (ValueError, TypeError):
        raise ValueError(
            "not a cursor of this registry (pass nextCursor as returned)"
        ) from None
    return float(rank), identifier


# --- identifiers ------------------------------------------------------------------

_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text.lower()).strip("-.") or "agent"


def _agent_url(card: AgentCard, source_url: str | None) -> str:
    """The card URL, else (a published card) its preferred interface's URL."""
    return source_url or (
        card.supported_interfaces[0].url if card.supported_interfaces else ""
    )


def host_identifier(card: AgentCard, source_url: str | None = None) -> str:
    """The URN of the agent's host, port and name, without its path:
    ``urn:air:<host>:<namespace>:<name>``.

    The identifier of an agent at the root of its host (:func:`agent_identifier`),
    and the one every agent had before paths were part of it: registration keeps it
    for an agent already recorded under it from the same URL.
    """
    parts = urlsplit(_agent_url(card, source_url))
    host = _slug(parts.hostname or "local")
    try:
        port = parts.port
    except ValueError:
        port = None
    namespace = f"port-{port}" if port else "a2a"
    return f"urn:air:{host}:{namespace}:{_slug(card.name)}"


def agent_path(source_url: str | None) -> str:
    """What tells apart agents registered by URL on one host and port: the path
    (and query) of the card URL less the well-known path; ``""`` at the root, and
    for a published card (``None``)."""
    if not source_url:
        return ""
    parts = urlsplit(source_url)
    path = parts.path.removesuffix(WELL_KNOWN_PATH).rstrip("/")
    return f"{path}?{parts.query}" if parts.query else path


def agent_identifier(card: AgentCard, source_url: str | None = None) -> str:
    """The URN an agent is registered under: ``urn:air:<host>:<namespace>:<name>``.

    The host is that of ``source_url`` (where its card was fetched), else of the
    card's preferred interface; the namespace is ``a2a``, or ``port-N`` when the URL
    names a port (two agents on one host); the name is the card's, made URN-safe.

    An agent registered by a URL below the root of its host (:func:`agent_path`:
    ``/agents/billing``) has its path in the namespace too, readable and hashed so
    that two paths never share it: ``port-8000.agents-billing-<12 hex digits of its
    SHA-256>``. Distinct agent URLs therefore never share an identifier; the scheme
    is not part of it (``http`` and ``https`` on their default ports name one
    agent). A published card has no URL of its own: its identifier is its
    interface's host and port and its name, so that a card whose interface moved
    is a new version of the same agent (with the change in its diff).
    """
    base = host_identifier(card, source_url)
    path = agent_path(source_url)
    if not path:
        return base
    digest = hashlib.sha256(path.encode()).hexdigest()[:12]
    prefix, namespace, name = base.rsplit(":", 2)
    readable = _slug(path)[:40].rstrip("-.")
    return f"{prefix}:{namespace}.{readable}-{digest}:{name}"

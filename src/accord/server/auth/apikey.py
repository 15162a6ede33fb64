"""API keys: stored hashed, several per tenant, rotated by add-then-retire.

Theory of operation. A key is a high-entropy random string (:func:`generate_api_key`:
256 bits). The server keeps only its SHA-256 (:func:`hash_api_key`); for secrets of
that entropy an unsalted fast hash is safe (nothing to brute-force), and it lets keys
live in a config file or a database without being usable if read. Each stored
:class:`ApiKey` maps to a principal id, a tenant (``""`` = the interface without a
tenant; ``None`` = any tenant) and scopes.

A presented key is hashed and compared with every stored hash with
:func:`hmac.compare_digest`, without stopping at the first match, so the time taken
does not depend on which key matched or how much of a hash matched.

Rotation: :meth:`ApiKeyRing.add` the new key, hand it out, then
:meth:`ApiKeyRing.retire` the old one, optionally at a future time so both work during
the changeover. A retired key past its expiry is refused like an unknown key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .principal import Principal
from .verifier import Credential, CredentialRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator

    from accord.types import SecurityScheme

__all__ = [
    "MIN_KEY_LENGTH",
    "ApiKey",
    "ApiKeyRing",
    "ApiKeyVerifier",
    "generate_api_key",
    "hash_api_key",
]

#: Shortest key accepted: below this a key is guessable, and an unsalted hash of it
#: could be brute-forced.
MIN_KEY_LENGTH = 16
_PREFIX = "sha256:"


def generate_api_key(prefix: str = "acc_") -> str:
    """A new random key: ``prefix`` + 43 URL-safe characters (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The stored form of ``key``: ``sha256:<hex digest>``.

    Raises:
        ValueError: the key is shorter than :data:`MIN_KEY_LENGTH`.
    """
    if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
        raise ValueError(
            f"an API key must be at least {MIN_KEY_LENGTH} characters of random "
            "text (use generate_api_key())"
        )
    return _PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One stored key (its hash) and whom it stands for.

    Attributes:
        hash: ``sha256:<hex>``, from :func:`hash_api_key`.
        principal: the principal id requests with this key run as.
        tenant: the tenant the key is valid for (``""``: the interface without a
            tenant; ``None``: any tenant).
        scopes: scopes granted to the key.
        expires_at: Unix time from which the key is refused (None: never).
    """

    hash: str
    principal: str
    tenant: str | None = ""
    scopes: frozenset[str] = frozenset()
    expires_at: float | None = None

    def __post_init__(self) -> None:
        digest = self.hash.removeprefix(_PREFIX)
        if (
            not self.hash.startswith(_PREFIX)
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise ValueError("ApiKey.hash must be 'sha256:' + 64 lower-case hex digits")
        if not self.principal:
            raise ValueError("ApiKey.principal must not be empty")

    @property
    def key_id(self) -> str:
        """A short, non-secret id for logs and management (a prefix of the hash)."""
        return self.hash[len(_PREFIX) : len(_PREFIX) + 12]

    def expired(self, now: float) -> bool:
        """True once ``expires_at`` has passed."""
        return self.expires_at is not None and now >= self.expires_at


class ApiKeyRing:
    """The set of valid keys; safe to change while the server runs."""

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: tuple[ApiKey, ...] = ()
        for key in keys:
            self.add_hashed(key)

    def __iter__(self) -> Iterator[ApiKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def add(
        self,
        key: str,
        *,
        principal: str,
        tenant: str | None = "",
        scopes: Collection[str] = (),
        expires_at: float | None = None,
    ) -> ApiKey:
        """Accept the plaintext ``key`` (only its hash is kept); return the record."""
        return self.add_hashed(
            ApiKey(
                hash=hash_api_key(key),
                principal=principal,
                tenant=tenant,
                scopes=frozenset(scopes),
                expires_at=expires_at,
            )
        )

    def add_hashed(self, record: ApiKey) -> ApiKey:
        """Accept a stored key record (e.g. loaded from a database).

        Raises:
            ValueError: a key with the same hash is already in the ring.
        """
        with self._lock:
            if any(k.hash == record.hash for k in self._keys):
                raise ValueError(f"the key {record.key_id} is already in the ring")
            self._keys = (*self._keys, record)
        return record

    def _find(self, key_id: str) -> ApiKey:
        matches = [k for k in self._keys if k.key_id == key_id or k.hash == key_id]
        if len(matches) != 1:
            raise KeyError(f"no API key with id {key_id!r}")
        return matches[0]

    def retire(self, key_id: str, *, at: float | None = None) -> ApiKey:
        """Stop accepting a key from ``at`` (Unix time; default: now).

        Raises:
            KeyError: no key has this id (or hash).
        """
        when = time.time() if at is None else at
        with self._lock:
            old = self._find(key_id)
            new = replace(old, expires_at=when)
            self._keys = tuple(new if k is old else k for k in self._keys)
        return new

    def remove(self, key_id: str) -> None:
        """Forget a key entirely.

        Raises:
            KeyError: no key has this id (or hash).
        """
        with self._lock:
            old = self._find(key_id)
            self._keys = tuple(k for k in self._keys if k is not old)

    def match(self, presented: str) -> ApiKey | None:
        """The record whose hash equals the hash of ``presented`` (expired or not)."""
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found: ApiKey | None = None
        for record in self._keys:  # no early exit: constant time in the match
            stored = bytes.fromhex(record.hash[len(_PREFIX) :])
            if hmac.compare_digest(stored, digest):
                found = record
        return found


class ApiKeyVerifier:
    """Verifies API keys (scheme ``apiKeySecurityScheme``) against an :class:`ApiKeyRing`.

    Where the key travels (header, query parameter or cookie, and its name) comes
    from the card's scheme.

    Example::

        keys = ApiKeyRing()
        keys.add(os.environ["PARTNER_KEY"], principal="partner-a", tenant="")
        app = A2AApp(agent, auth={"apiKey": ApiKeyVerifier(keys)})
    """

    def __init__(
        self,
        keys: ApiKeyRing | Iterable[ApiKey],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys if isinstance(keys, ApiKeyRing) else ApiKeyRing(keys)
        self._clock = clock

    def check_scheme(self, name: str, scheme: SecurityScheme) -> None:
        """Accept only API-key schemes with a valid location and a name."""
        key = scheme.api_key_security_scheme
        if key is None:
            raise ValueError("ApiKeyVerifier needs an apiKeySecurityScheme")
        if key.location not in ("header", "query", "cookie"):
            raise ValueError(
                f"apiKeySecurityScheme.location must be 'header', 'query' or 'cookie' "
                f"(got {key.location!r})"
            )
        if not key.name:
            raise ValueError("apiKeySecurityScheme.name is empty")

    async def verify(self, credential: Credential) -> Principal:
        """The principal of the presented key."""
        record = self.keys.match(credential.value)
        if record is None:
            raise CredentialRejected("unknown API key")
        if record.expired(self._clock()):
            raise CredentialRejected(f"API key {record.key_id} is retired")
        return Principal(
            id=record.principal,
            scheme=credential.scheme_name,
            tenants=None if record.tenant is None else frozenset({record.tenant}),
            scopes=record.scopes,
            claims={"key_id": record.key_id},
        )

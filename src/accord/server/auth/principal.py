"""Who is calling: the :class:`Principal` an authenticated request carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Attributes:
        id: stable identifier of the caller; it becomes the ``owner`` of the tasks the
            caller creates, so two callers with the same id share their tasks.
        scheme: name (in the card's ``securitySchemes``) of the scheme that
            authenticated it.
        tenants: the tenants the caller may address; ``None`` means it is not bound to
            a tenant (every tenant of the agent; tasks stay per owner and per tenant).
            ``""`` is the interface without a tenant.
        scopes: the OAuth-style scopes (permissions) granted to the caller.
        claims: what the verifier knew about the caller (token claims, certificate
            subject, key id); never the secret itself.
    """

    id: str
    scheme: str = ""
    tenants: frozenset[str] | None = None
    scopes: frozenset[str] = frozenset()
    claims: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("a principal needs a non-empty id")

    def allows_tenant(self, tenant: str) -> bool:
        """True when the caller may address ``tenant``."""
        return self.tenants is None or tenant in self.tenants

    def has_scopes(self, needed: Collection[str]) -> bool:
        """True when every scope in ``needed`` was granted."""
        return all(scope in self.scopes for scope in needed)

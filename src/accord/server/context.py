"""CallContext: who is calling, how, and within which task boundary (spec §13.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.protocol.trace import trace_id_of
from accord.stores import Scope

if TYPE_CHECKING:
    from collections.abc import Callable

    from .auth.principal import Principal

__all__ = ["CallContext"]


def _no_header(name: str) -> str | None:
    """The header lookup of a context built without a request: nothing is there."""
    return None


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling and how.

    Attributes:
        owner: the principal id that owns the tasks this call creates (``""`` when
            anonymous).
        version: the negotiated protocol version.
        extensions: the extensions the client activated.
        principal: the authenticated caller, None when anonymous.
        boundary: the task scope authorization decided for this call (see
            :meth:`RequestHandler.authorize`); None until then.
        base_url_of: computes the agent's absolute URL as this caller sees it
            (:attr:`base_url`), on demand: only an extended card that lists no
            interfaces needs it, and deriving it checks the peer and the headers.
        header: a request header (HTTP) or metadata value (gRPC) by lower-case
            name, None when absent (interceptors read e.g. W3C ``traceparent``).
        traceparent: the request's W3C Trace Context ``traceparent`` header (gRPC:
            metadata), as received (``""`` when absent); :attr:`trace_id` is its
            trace id.
    """

    owner: str = ""
    version: str = "1.0"
    extensions: tuple[str, ...] = ()
    principal: Principal | None = None
    boundary: Scope | None = None
    base_url_of: Callable[[], str] | None = None
    header: Callable[[str], str | None] = _no_header
    traceparent: str = ""

    @property
    def trace_id(self) -> str:
        """The trace id of :attr:`traceparent` (32 lowercase hex digits), ``""`` when
        there is none or it is malformed (:func:`~accord.protocol.trace.trace_id_of`)."""
        return trace_id_of(self.traceparent)

    @property
    def base_url(self) -> str:
        """The agent's absolute URL as this caller sees it (``""`` when unknown)."""
        return "" if self.base_url_of is None else self.base_url_of()

    def with_boundary(self, boundary: Scope) -> CallContext:
        """This context with its task boundary decided (``dataclasses.replace``, in
        a fraction of the time: it runs once per request)."""
        # Positional, in field order (keywords cost a third more; this is per request).
        return CallContext(
            self.owner,
            self.version,
            self.extensions,
            self.principal,
            boundary,
            self.base_url_of,
            self.header,
            self.traceparent,
        )

    def scope(self, tenant: str) -> Scope:
        """The boundary of task reads for a request addressed to ``tenant``.

        The authorized boundary when there is one for that tenant; otherwise the
        caller's own tasks in ``tenant`` (the closed default).
        """
        boundary = self.boundary
        if boundary is not None and boundary.tenant == tenant:
            return boundary
        return Scope(tenant=tenant, owner=self.owner)

    def owner_scope(self, tenant: str) -> Scope:
        """The scope new tasks are created in: ``tenant`` and the caller as owner."""
        return Scope(tenant=tenant, owner=self.owner)

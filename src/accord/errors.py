"""The whole exception tree of Accord.

::

    A2AError(Exception)                     everything Accord raises on purpose
    ├── ProtocolError                       spec errors; .reason, .message, .details; wire-mapped
    │   ├── ParseError                      -32700  body is not JSON
    │   ├── InvalidRequestError             -32600  not a valid request envelope
    │   ├── MethodNotFoundError             -32601  unknown method / route
    │   ├── InvalidParamsError              -32602  params fail validation (names the field)
    │   ├── InternalError                   -32603  server bug or unexpected failure
    │   ├── TaskNotFoundError               -32001
    │   ├── TaskNotCancelableError          -32002
    │   ├── PushNotificationNotSupportedError -32003
    │   ├── UnsupportedOperationError       -32004
    │   ├── ContentTypeNotSupportedError    -32005
    │   ├── InvalidAgentResponseError       -32006
    │   ├── ExtendedAgentCardNotConfiguredError -32007
    │   ├── ExtensionSupportRequiredError   -32008
    │   ├── VersionNotSupportedError        -32009
    │   ├── PayloadTooLargeError            request body over the server's limit (HTTP 413)
    │   ├── UnauthenticatedError            missing/invalid credentials (HTTP 401)
    │   ├── PermissionDeniedError           authenticated but not allowed (HTTP 403)
    │   ├── UnavailableError                the server is at capacity; retry later (HTTP 503)
    │   └── RateLimitedError                the caller is over its rate limit (HTTP 429; .retry_after)
    ├── TransportError                      client side, below A2A
    │   ├── ConnectError                    could not reach the agent
    │   ├── TimeoutError                    no answer in time
    │   ├── HTTPStatusError                 an HTTP status that carries no A2A error
    │   └── IncompleteStreamError           a stream ended before its task ended or paused
    ├── CardError                           an agent card could not be fetched or is invalid
    │   └── CardDriftError                  the card's content no longer matches its pin
    ├── SecurityError                       a signature, key or token failed verification
    │   ├── SignatureError                  the signature does not match (tampered, wrong key)
    │   ├── UnknownKeyError                 no trusted key has the signature's ``kid``
    │   ├── KeyExpiredError                 the key is expired or revoked
    │   ├── AlgorithmError                  algorithm not allowed (``none``, HS* with a public key)
    │   └── TokenError                      a token is malformed or its claims fail (.reason)
    └── StoreError                          a task store failed
        ├── ConflictError                   optimistic-concurrency version mismatch
        └── StoreUnavailableError           the database cannot be reached (also an
                                            UnavailableError: HTTP 503, retry later)

Misuse of the API raises ``TypeError`` / ``ValueError`` / ``RuntimeError``, never
``A2AError``. The mapping of each ``ProtocolError`` to JSON-RPC codes, HTTP statuses,
gRPC statuses and ErrorInfo reasons lives in one table: ``accord.protocol.errors``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "A2AError",
    "AlgorithmError",
    "CardDriftError",
    "CardError",
    "ConflictError",
    "ConnectError",
    "ContentTypeNotSupportedError",
    "ExtendedAgentCardNotConfiguredError",
    "ExtensionSupportRequiredError",
    "HTTPStatusError",
    "IncompleteStreamError",
    "InternalError",
    "InvalidAgentResponseError",
    "InvalidParamsError",
    "InvalidRequestError",
    "KeyExpiredError",
    "MethodNotFoundError",
    "ParseError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProtocolError",
    "PushNotificationNotSupportedError",
    "RateLimitedError",
    "SecurityError",
    "SignatureError",
    "StoreError",
    "StoreUnavailableError",
    "TaskNotCancelableError",
    "TaskNotFoundError",
    "TimeoutError",
    "TokenError",
    "TransportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownKeyError",
    "UnsupportedOperationError",
    "VersionNotSupportedError",
]


class A2AError(Exception):
    """Base of every exception Accord raises on purpose."""


class ProtocolError(A2AError):
    """An error the A2A spec defines; bindings translate it to the wire (spec §5.4).

    Attributes:
        message: human-readable text for the caller.
        metadata: string map carried in the ErrorInfo detail (e.g. ``taskId``).
        field_violations: ``(field, description)`` pairs carried as a
            ``google.rpc.BadRequest`` detail for validation errors (spec §3.3.2).
    """

    default_message = "A2A protocol error"

    def __init__(
        self,
        message: str | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        field_violations: Sequence[tuple[str, str]] = (),
        data: Any = None,
    ) -> None:
        self.message = message or self.default_message
        self.metadata: dict[str, str] = dict(metadata or {})
        self.field_violations: tuple[tuple[str, str], ...] = tuple(field_violations)
        #: Extra error data a peer sent that is not a list of typed details (v0.3 peers).
        self.data = data
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ParseError(ProtocolError):
    """Raised when a request or response body is not valid JSON."""

    default_message = "Invalid JSON payload"


class InvalidRequestError(ProtocolError):
    """Raised when a body is JSON but not a valid request (e.g. wrong ``jsonrpc``, a batch)."""

    default_message = "Invalid request"


class MethodNotFoundError(ProtocolError):
    """Raised when the JSON-RPC method or the REST route does not exist."""

    default_message = "Method not found"


class InvalidParamsError(ProtocolError):
    """Raised when parameters fail validation; the message names the offending field."""

    default_message = "Invalid parameters"


class InternalError(ProtocolError):
    """Raised when the server failed in a way the caller cannot fix."""

    default_message = "Internal error"


class TaskNotFoundError(ProtocolError):
    """Raised when a task (or push config) is unknown, expired, or not visible to the caller."""

    default_message = "Task not found"


class TaskNotCancelableError(ProtocolError):
    """Raised when cancelling a task that is already in a terminal state."""

    default_message = "Task cannot be canceled"


class PushNotificationNotSupportedError(ProtocolError):
    """Raised by push-config operations when the agent card does not declare push."""

    default_message = "Push notifications are not supported"


class UnsupportedOperationError(ProtocolError):
    """Raised for operations the agent does not support in the current state or config."""

    default_message = "This operation is not supported"


class ContentTypeNotSupportedError(ProtocolError):
    """Raised when an input part's media type is not accepted by the agent."""

    default_message = "Incompatible content types"


class InvalidAgentResponseError(ProtocolError):
    """Raised when an agent (or a peer server) produces a response that breaks the spec."""

    default_message = "Invalid agent response"


class ExtendedAgentCardNotConfiguredError(ProtocolError):
    """Raised when the card declares an extended card but none is configured."""

    default_message = "Extended agent card is not configured"


class ExtensionSupportRequiredError(ProtocolError):
    """Raised when the agent requires an extension the client did not activate."""

    default_message = "A required extension was not activated"


class VersionNotSupportedError(ProtocolError):
    """Raised when the requested ``A2A-Version`` is not served by the interface."""

    default_message = "Protocol version not supported"


class PayloadTooLargeError(ProtocolError):
    """Raised when a request body exceeds the server's configured size limit."""

    default_message = "Request body too large"


class UnauthenticatedError(ProtocolError):
    """Raised when credentials are missing or invalid (spec §7.4, HTTP 401)."""

    default_message = "Authentication required"


class PermissionDeniedError(ProtocolError):
    """Raised when an authenticated caller may not perform an operation (HTTP 403)."""

    default_message = "Permission denied"


class UnavailableError(ProtocolError):
    """Raised when the server is at capacity (a transient condition; retry later)."""

    default_message = "The agent is busy; retry later"


class RateLimitedError(ProtocolError):
    """Raised when the caller sent more requests than its rate limit allows (HTTP 429).

    Spec §13 asks agents to rate-limit every operation and to answer with an
    appropriate error; §3.3.2 files it among the transient system errors, with retry
    guidance. ``retry_after`` is the seconds until the next request would be
    accepted: the ``Retry-After`` header over HTTP (whole seconds, rounded up), and
    the ErrorInfo metadata ``retryAfterSeconds`` on every binding (to the
    millisecond; read back from it when a client decodes the error).
    """

    default_message = "Too many requests; retry later"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        metadata: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        given = dict(metadata or {})
        if retry_after is None:
            try:
                retry_after = float(given.get("retryAfterSeconds", "1"))
            except ValueError:
                retry_after = 1.0
        self.retry_after = max(0.0, retry_after)
        # Milliseconds kept (a client may wait less than the header's whole seconds).
        given["retryAfterSeconds"] = f"{self.retry_after:.3f}".rstrip("0").rstrip(".")
        super().__init__(message, metadata=given, **kwargs)

    @property
    def retry_after_header(self) -> int:
        """:attr:`retry_after` in whole seconds, rounded up, at least 1."""
        return max(1, math.ceil(self.retry_after))


class TransportError(A2AError):
    """Raised by the client when the exchange fails below the A2A layer."""


class ConnectError(TransportError):
    """Raised when the agent cannot be reached (refused, DNS, TLS)."""


class TimeoutError(TransportError):
    """Raised when the agent does not answer within the configured timeout."""


class HTTPStatusError(TransportError):
    """Raised when an HTTP response carries a status but no A2A error body."""

    def __init__(self, message: str, *, status_code: int, body: bytes = b"") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class IncompleteStreamError(TransportError):
    """Raised when a stream ends before its task reached a state that ends it.

    A task stream ends at a terminal state, or at an interrupted one (INPUT_REQUIRED,
    AUTH_REQUIRED) when the turn is over (spec §3.1.2, §11.7); a message-only stream
    ends after its message. Anything else is a connection that closed early (the
    server stopped, a proxy cut it): the outcome of the task is unknown, so this is
    never reported as success. Resume with ``Client.subscribe(task_id,
    last_event_id=...)`` or look the task up with ``get_task``.

    Attributes:
        task_id: the task the stream was about ("" if no event named one).
        state: the last state the stream reported, an ``accord.types.TaskState``
            (typed ``str`` here, which it is, because this module sits below
            ``accord.types``); None if it reported none.
        last_event_id: the SSE id of the last event received, for resuming.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str = "",
        state: str | None = None,
        last_event_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.state = state
        self.last_event_id = last_event_id


class CardError(A2AError):
    """Raised when an agent card cannot be fetched, parsed, or used.

    Attributes:
        status_code: the HTTP status of the card response when that was the problem.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class CardDriftError(CardError):
    """Raised when a pinned agent card changed: its pin is not the expected one.

    A pin (``sha256:...``, :func:`accord.security.card_pin`) names the card's content
    without its signatures, so a re-signed card still matches. Only the hashes are
    known here, not the old card: ``accord card diff OLD NEW`` says what changed.

    Attributes:
        url: where the card was fetched.
        expected: the pin the caller gave.
        actual: the pin of the card fetched.
    """

    def __init__(self, url: str, *, expected: str, actual: str) -> None:
        super().__init__(
            f"the agent card at {url} changed: pinned {expected}, got {actual} — "
            "compare it with the card you pinned (`accord card diff OLD_CARD.json "
            f"{url}`), then pin the new one (`accord card pin {url}`) if it is fine"
        )
        self.url = url
        self.expected = expected
        self.actual = actual


class SecurityError(A2AError):
    """Raised when a signature, key or token fails verification (local, never wire-mapped).

    Servers turn authentication failures into :class:`UnauthenticatedError` without
    saying which check failed (spec §7.4: do not leak why a credential failed).
    """


class SignatureError(SecurityError):
    """Raised when a signature does not verify (tampered content or another key)."""


class UnknownKeyError(SecurityError):
    """Raised when no trusted key matches the signature's ``kid``."""


class KeyExpiredError(SecurityError):
    """Raised when the matching key is expired or revoked (spec §8.4.3)."""


class AlgorithmError(SecurityError):
    """Raised for an algorithm outside the allow-list (``none``; HS* with a public key)."""


class TokenError(SecurityError):
    """Raised when a token is malformed or a claim fails.

    Attributes:
        reason: short machine-readable cause, e.g. ``"expired"``, ``"audience"``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreError(A2AError):
    """Raised when a task store fails; never a raw driver exception."""


class ConflictError(StoreError):
    """Raised when a write lost an optimistic-concurrency race (stale ``version``)."""


class StoreUnavailableError(StoreError, UnavailableError):
    """Raised when the task store's database cannot be reached (down, restarting).

    Also an :class:`UnavailableError`, so a request that meets it is answered
    UNAVAILABLE (HTTP 503 with ``Retry-After``, spec §3.3.2) and the client may retry.
    The wire carries :attr:`message`, a fixed text that names no host; ``str()`` is
    :attr:`detail`, the operator's message (which database, what to check).
    """

    default_message = "The task store is unreachable; retry later"

    def __init__(self, detail: str) -> None:
        super().__init__(self.default_message)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

"""The one error table: each ProtocolError with its reason, JSON-RPC code, HTTP and gRPC status.

Source: spec §5.4 (current 1.0.1 text). Standard JSON-RPC errors follow
JSON-RPC 2.0 §5.1 and are mapped for REST/gRPC as spec §5.4 notes. Authentication,
authorization and body-size errors have no A2A-assigned JSON-RPC code (spec §3.3.2);
they use codes from the JSON-RPC application range and are identified by ``reason``.

Clients map errors back by ErrorInfo ``reason`` first, then by code (spec §3.3.2,
spec §9.5), because several errors share an HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord import errors as e

__all__ = [
    "DOMAIN",
    "ERRORS",
    "ErrorSpec",
    "from_jsonrpc_code",
    "from_reason",
    "spec_for",
]

#: ErrorInfo ``domain`` for A2A errors (spec §5.4).
DOMAIN = "a2a-protocol.org"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """How one error class appears on every binding."""

    cls: type[e.ProtocolError]
    reason: str
    jsonrpc_code: int
    http_status: int
    grpc_status: str


ERRORS: tuple[ErrorSpec, ...] = (
    # A2A-specific errors (spec §5.4 table)
    ErrorSpec(e.TaskNotFoundError, "TASK_NOT_FOUND", -32001, 404, "NOT_FOUND"),
    ErrorSpec(
        e.TaskNotCancelableError,
        "TASK_NOT_CANCELABLE",
        -32002,
        400,
        "FAILED_PRECONDITION",
    ),
    ErrorSpec(
        e.PushNotificationNotSupportedError,
        "PUSH_NOTIFICATION_NOT_SUPPORTED",
        -32003,
        400,
        "FAILED_PRECONDITION",
    ),
    ErrorSpec(
        e.UnsupportedOperationError,
        "UNSUPPORTED_OPERATION",
        -32004,
        400,
        "FAILED_PRECONDITION",
    ),
    ErrorSpec(
        e.ContentTypeNotSupportedError,
        "CONTENT_TYPE_NOT_SUPPORTED",
        -32005,
        400,
        "INVALID_ARGUMENT",
    ),
    ErrorSpec(
        e.InvalidAgentResponseError, "INVALID_AGENT_RESPONSE", -32006, 500, "INTERNAL"
    ),
    ErrorSpec(
        e.ExtendedAgentCardNotConfiguredError,
        "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
        -32007,
        400,
        "FAILED_PRECONDITION",
    ),
    ErrorSpec(
        e.ExtensionSupportRequiredError,
        "EXTENSION_SUPPORT_REQUIRED",
        -32008,
        400,
        "FAILED_PRECONDITION",
    ),
    ErrorSpec(
        e.VersionNotSupportedError,
        "VERSION_NOT_SUPPORTED",
        -32009,
        400,
        "FAILED_PRECONDITION",
    ),
    # Standard JSON-RPC 2.0 errors (§5.1 of JSON-RPC 2.0)
    ErrorSpec(e.ParseError, "PARSE_ERROR", -32700, 400, "INVALID_ARGUMENT"),
    ErrorSpec(
        e.InvalidRequestError, "INVALID_REQUEST", -32600, 400, "INVALID_ARGUMENT"
    ),
    ErrorSpec(e.MethodNotFoundError, "METHOD_NOT_FOUND", -32601, 404, "NOT_FOUND"),
    ErrorSpec(e.InvalidParamsError, "INVALID_PARAMS", -32602, 400, "INVALID_ARGUMENT"),
    ErrorSpec(e.InternalError, "INTERNAL_ERROR", -32603, 500, "INTERNAL"),
    # Transport-level errors without an A2A code (spec §3.3.2)
    ErrorSpec(
        e.PayloadTooLargeError, "PAYLOAD_TOO_LARGE", -31413, 413, "RESOURCE_EXHAUSTED"
    ),
    ErrorSpec(
        e.UnauthenticatedError, "UNAUTHENTICATED", -31401, 401, "UNAUTHENTICATED"
    ),
    ErrorSpec(
        e.PermissionDeniedError, "PERMISSION_DENIED", -31403, 403, "PERMISSION_DENIED"
    ),
    # A transient system error (spec §3.3.2 "System": UNAVAILABLE / 503).
    ErrorSpec(e.UnavailableError, "UNAVAILABLE", -31503, 503, "UNAVAILABLE"),
    # Over the caller's rate limit (spec §13 "Rate Limiting"; RFC 6585 §4: 429).
    ErrorSpec(e.RateLimitedError, "RATE_LIMITED", -31429, 429, "RESOURCE_EXHAUSTED"),
)

_BY_CLASS = {s.cls: s for s in ERRORS}
_BY_REASON = {s.reason: s for s in ERRORS}
_BY_CODE = {s.jsonrpc_code: s for s in ERRORS}


def spec_for(error: e.ProtocolError | type[e.ProtocolError]) -> ErrorSpec:
    """Return the table row of an error (or of its nearest listed base class)."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        row = _BY_CLASS.get(klass)
        if row is not None:
            return row
    return _BY_CLASS[e.InternalError]


def from_reason(reason: str) -> ErrorSpec | None:
    """Return the row whose ErrorInfo ``reason`` is ``reason``."""
    return _BY_REASON.get(reason)


def from_jsonrpc_code(code: int) -> ErrorSpec | None:
    """Return the row for a JSON-RPC error code."""
    return _BY_CODE.get(code)

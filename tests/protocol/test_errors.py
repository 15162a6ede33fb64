"""The one error table (spec §5.4)."""

from __future__ import annotations

import inspect
import re

import pytest

from accord import errors as e
from accord.protocol import errors as table

#: Spec §5.4, current (1.0.1) mapping: class -> (JSON-RPC code, gRPC status, HTTP).
A2A_ERRORS: dict[type[e.ProtocolError], tuple[int, str, int]] = {
    e.TaskNotFoundError: (-32001, "NOT_FOUND", 404),
    e.TaskNotCancelableError: (-32002, "FAILED_PRECONDITION", 400),
    e.PushNotificationNotSupportedError: (-32003, "FAILED_PRECONDITION", 400),
    e.UnsupportedOperationError: (-32004, "FAILED_PRECONDITION", 400),
    e.ContentTypeNotSupportedError: (-32005, "INVALID_ARGUMENT", 400),
    e.InvalidAgentResponseError: (-32006, "INTERNAL", 500),
    e.ExtendedAgentCardNotConfiguredError: (-32007, "FAILED_PRECONDITION", 400),
    e.ExtensionSupportRequiredError: (-32008, "FAILED_PRECONDITION", 400),
    e.VersionNotSupportedError: (-32009, "FAILED_PRECONDITION", 400),
}

#: JSON-RPC 2.0 §5.1 codes, mapped for REST/gRPC as spec §5.4 notes.
STANDARD_ERRORS: dict[type[e.ProtocolError], tuple[int, str, int, str]] = {
    e.ParseError: (-32700, "INVALID_ARGUMENT", 400, "PARSE_ERROR"),
    e.InvalidRequestError: (-32600, "INVALID_ARGUMENT", 400, "INVALID_REQUEST"),
    e.MethodNotFoundError: (-32601, "NOT_FOUND", 404, "METHOD_NOT_FOUND"),
    e.InvalidParamsError: (-32602, "INVALID_ARGUMENT", 400, "INVALID_PARAMS"),
    e.InternalError: (-32603, "INTERNAL", 500, "INTERNAL_ERROR"),
}

#: Spec §3.3.2 categories without an A2A code.
TRANSPORT_ERRORS: dict[type[e.ProtocolError], tuple[str, int]] = {
    e.UnauthenticatedError: ("UNAUTHENTICATED", 401),
    e.PermissionDeniedError: ("PERMISSION_DENIED", 403),
    e.PayloadTooLargeError: ("RESOURCE_EXHAUSTED", 413),
    e.UnavailableError: ("UNAVAILABLE", 503),
    e.RateLimitedError: ("RESOURCE_EXHAUSTED", 429),
}

GRPC_CODES = {
    "INVALID_ARGUMENT": 3,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}

PROTOCOL_ERRORS = [
    obj
    for _, obj in inspect.getmembers(e, inspect.isclass)
    if issubclass(obj, e.ProtocolError)
    and obj is not e.ProtocolError
    # A store error that is also a protocol error travels as that one (its base's row).
    and not issubclass(obj, e.StoreError)
]


def _reason(cls: type) -> str:
    """ErrorInfo reason: UPPER_SNAKE_CASE of the name minus ``Error`` (spec §5.4)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__.removesuffix("Error")).upper()


def test_an_unreachable_store_travels_as_unavailable() -> None:
    error = e.StoreUnavailableError("PostgreSQL at postgresql://db:5432/x is down")
    assert table.spec_for(error) is table.spec_for(e.UnavailableError)
    assert error.message == e.StoreUnavailableError.default_message  # names no host
    assert "db:5432" in str(error)  # the operator's text


def test_table_is_exhaustive() -> None:
    assert {row.cls for row in table.ERRORS} == set(PROTOCOL_ERRORS)
    assert len(table.ERRORS) == len(PROTOCOL_ERRORS)  # one row per class
    assert set(A2A_ERRORS) | set(STANDARD_ERRORS) | set(TRANSPORT_ERRORS) == set(
        PROTOCOL_ERRORS
    )


@pytest.mark.parametrize("cls", list(A2A_ERRORS), ids=lambda c: c.__name__)
def test_a2a_errors_as_in_the_spec(cls: type[e.ProtocolError]) -> None:
    code, grpc, http = A2A_ERRORS[cls]
    row = table.spec_for(cls)
    assert (row.jsonrpc_code, row.grpc_status, row.http_status) == (code, grpc, http)
    assert row.reason == _reason(cls)
    assert -32099 <= row.jsonrpc_code <= -32001  # A2A's reserved range


@pytest.mark.parametrize("cls", list(STANDARD_ERRORS), ids=lambda c: c.__name__)
def test_standard_jsonrpc_errors(cls: type[e.ProtocolError]) -> None:
    code, grpc, http, reason = STANDARD_ERRORS[cls]
    row = table.spec_for(cls)
    assert (row.jsonrpc_code, row.grpc_status, row.http_status) == (code, grpc, http)
    assert row.reason == reason


@pytest.mark.parametrize("cls", list(TRANSPORT_ERRORS), ids=lambda c: c.__name__)
def test_transport_level_errors(cls: type[e.ProtocolError]) -> None:
    grpc, http = TRANSPORT_ERRORS[cls]
    row = table.spec_for(cls)
    assert (row.grpc_status, row.http_status) == (grpc, http)
    assert row.reason == _reason(cls)
    # Their codes stay clear of JSON-RPC's reserved and A2A's ranges.
    assert not -32768 <= row.jsonrpc_code <= -32000


def test_codes_and_reasons_are_unique() -> None:
    codes = [row.jsonrpc_code for row in table.ERRORS]
    reasons = [row.reason for row in table.ERRORS]
    assert len(set(codes)) == len(codes)
    assert len(set(reasons)) == len(reasons)
    assert all(row.grpc_status in GRPC_CODES for row in table.ERRORS)


@pytest.mark.parametrize("row", table.ERRORS, ids=lambda r: r.reason)
def test_lookups(row: table.ErrorSpec) -> None:
    assert table.from_reason(row.reason) is row
    assert table.from_jsonrpc_code(row.jsonrpc_code) is row
    assert table.spec_for(row.cls) is row
    assert table.spec_for(row.cls("boom")) is row


def test_unknown_lookups() -> None:
    assert table.from_reason("NO_SUCH_REASON") is None
    assert table.from_jsonrpc_code(-32000) is None
    assert table.from_jsonrpc_code(0) is None


def test_subclasses_use_their_nearest_row() -> None:
    class StaleTaskError(e.TaskNotFoundError):
        pass

    class Custom(e.ProtocolError):
        pass

    assert table.spec_for(StaleTaskError).cls is e.TaskNotFoundError
    assert table.spec_for(StaleTaskError("gone")).cls is e.TaskNotFoundError
    assert table.spec_for(Custom).cls is e.InternalError  # unknown: an internal error


def test_domain() -> None:
    assert table.DOMAIN == "a2a-protocol.org"


def test_error_values() -> None:
    error = e.TaskNotFoundError(metadata={"taskId": "t-1"})
    assert error.message == "Task not found"
    assert str(error) == "Task not found"
    assert error.metadata == {"taskId": "t-1"}
    assert error.field_violations == ()
    invalid = e.InvalidParamsError("bad", field_violations=[("message.parts", "empty")])
    assert invalid.field_violations == (("message.parts", "empty"),)
    assert repr(invalid) == "InvalidParamsError('bad')"
    assert isinstance(invalid, e.A2AError)

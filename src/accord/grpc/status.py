"""A2A errors as gRPC statuses, and back (spec §10.6, §5.4).

An error travels as the call's status code (the error table's gRPC column,
:mod:`accord.protocol.errors`) and message, with a ``google.rpc.Status`` carrying the
same code and message and the typed details every binding sends
(:mod:`accord.bindings.details`: ``ErrorInfo`` with the A2A reason, ``BadRequest`` for
validation errors) in the ``grpc-status-details-bin`` trailer, the standard place for
rich gRPC errors.

Reading one back, the ErrorInfo reason names the error class first (several errors
share a status code, and peers built on the 1.0.0 tag use other codes); the status
code is the fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf import any_pb2, json_format
from google.rpc import error_details_pb2, status_pb2

import grpc
from accord import errors as e
from accord.bindings.details import (
    BAD_REQUEST_TYPE,
    ERROR_INFO_TYPE,
    build_details,
    make_error,
    read_details,
    wire_message,
)
from accord.protocol.errors import ERRORS, spec_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from accord.errors import ProtocolError

__all__ = ["DETAILS_KEY", "from_status", "to_status"]

#: The trailer holding the serialized ``google.rpc.Status``.
DETAILS_KEY = "grpc-status-details-bin"

_DETAIL_CLASSES: dict[str, type[Any]] = {
    ERROR_INFO_TYPE: error_details_pb2.ErrorInfo,
    BAD_REQUEST_TYPE: error_details_pb2.BadRequest,
}

#: The error class a status code means when no ErrorInfo names one (a gateway, a
#: peer that sends no details): as the HTTP+JSON binding reads statuses, with
#: UNIMPLEMENTED the 1.0.0-tag code of the unsupported errors (spec §5.4).
_BY_CODE: dict[grpc.StatusCode, type[ProtocolError]] = {
    grpc.StatusCode.NOT_FOUND: e.TaskNotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: e.UnsupportedOperationError,
    grpc.StatusCode.UNIMPLEMENTED: e.UnsupportedOperationError,
    grpc.StatusCode.INVALID_ARGUMENT: e.InvalidParamsError,
    grpc.StatusCode.UNAUTHENTICATED: e.UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: e.PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: e.PayloadTooLargeError,
    grpc.StatusCode.INTERNAL: e.InternalError,
    grpc.StatusCode.UNAVAILABLE: e.UnavailableError,
}


def to_status(
    error: ProtocolError, *, v03: bool = False
) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """The status code, message and trailing metadata of ``error``.

    ``v03``: for v0.3's service, whose clients read the error's class from the
    message, ``"TaskNotFoundError: Task t-1 not found"`` (the details are sent too).
    """
    row = spec_for(error)
    code = grpc.StatusCode[row.grpc_status]
    message = wire_message(error)
    if v03:
        message = f"{row.cls.__name__}: {message}"
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in build_details(error):
        cls = _DETAIL_CLASSES.get(detail["@type"])
        if cls is None:
            continue  # a relayed detail of a type we cannot rebuild
        packed = any_pb2.Any()
        body = {k: v for k, v in detail.items() if k != "@type"}
        packed.Pack(json_format.ParseDict(body, cls()))
        status.details.append(packed)
    return code, message, ((DETAILS_KEY, status.SerializeToString()),)


def from_status(
    code: grpc.StatusCode,
    message: str,
    trailers: Sequence[tuple[str, str | bytes]] | None,
    *,
    peer: str,
    v03: bool = False,
) -> ProtocolError:
    """The :class:`ProtocolError` a peer's failed call reported.

    ``v03``: v0.3 servers name the error's class at the start of the message
    (``"TaskNotFoundError: ..."``), read when no ErrorInfo names it.
    """
    details: list[dict[str, Any]] = []
    for key, value in trailers or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            details = _details(value)
            break
    fallback = _BY_CODE.get(code)
    if v03:
        name, sep, rest = message.partition(": ")
        named = _BY_NAME.get(name) if sep else None
        if named is not None:
            fallback, message = named, rest
    return make_error(
        fallback,
        message or f"{peer} answered with gRPC status {code.name}",
        read_details(details),
        note=f"{peer} answered with gRPC status {code.name}",
    )


#: Error classes by name, for v0.3's ``"<Class>: <message>"`` convention.
_BY_NAME: dict[str, type[ProtocolError]] = {row.cls.__name__: row.cls for row in ERRORS}


def _details(data: bytes) -> list[dict[str, Any]]:
    try:
        status = status_pb2.Status.FromString(data)
    except Exception:  # a malformed trailer: the status code still stands
        return []
    details: list[dict[str, Any]] = []
    for packed in status.details:
        type_url = packed.type_url
        name = type_url.rsplit("/", 1)[-1]
        cls = next(
            (c for url, c in _DETAIL_CLASSES.items() if url.endswith("/" + name)),
            None,
        )
        if cls is None:
            details.append({"@type": type_url})
            continue
        message = cls()
        if not packed.Unpack(message):
            continue
        details.append({"@type": type_url, **json_format.MessageToDict(message)})
    return details

"""The JSON-RPC 2.0 envelope of the A2A JSON-RPC binding (spec §9), read and written
here because only :mod:`accord.types` calls msgspec; :mod:`accord.bindings.jsonrpc`
builds on these and exports the ones its users need.

:func:`decode_jsonrpc` reads a request body strictly (:func:`~accord.types.decode_json`
with ``strict=True``: no nesting too deep, no repeated member name) and hands back the
object; :func:`split_jsonrpc` makes its members a :class:`JsonRpcEnvelope`;
:class:`JsonRpcResult` is a success response to encode.
"""

from __future__ import annotations

from typing import Any

import msgspec

from accord.errors import InvalidRequestError

from ._codec import decode_json

__all__ = ["JsonRpcEnvelope", "JsonRpcResult", "decode_jsonrpc", "split_jsonrpc"]


class JsonRpcEnvelope(msgspec.Struct, frozen=True):
    """The members of a JSON-RPC 2.0 request, ``params`` as plain JSON values.

    ``id`` is ``None`` for ``null`` and when absent (see :data:`has_id`); ``params`` is
    ``None`` for ``null`` or when absent, else the decoded value (any JSON type: the
    caller checks it).
    """

    jsonrpc: Any
    id: Any
    method: Any
    params: Any
    has_id: bool


class JsonRpcResult(msgspec.Struct, frozen=True, gc=False):
    """A JSON-RPC 2.0 success response: encoded, its members in this order (a Struct
    encodes faster than the equivalent dict, once per answer)."""

    jsonrpc: str
    id: Any
    result: Any


def split_jsonrpc(data: bytes) -> JsonRpcEnvelope:
    """Read a JSON-RPC request strictly (see :func:`decode_json`), ``params`` as values.

    Raises:
        ParseError: the body is not JSON, is nested too deep or repeats a member name.
        InvalidRequestError: the body is JSON but not an object (e.g. a batch array).
    """
    value = decode_jsonrpc(data)
    get = value.get
    # Positional, in field order (keywords cost more): jsonrpc, id, method, params,
    # has_id.
    return JsonRpcEnvelope(
        get("jsonrpc"), get("id"), get("method"), get("params"), "id" in value
    )


def decode_jsonrpc(data: bytes) -> dict[str, Any]:
    """Read a JSON-RPC request strictly (see :func:`decode_json`): the object itself,
    for a server that reads its members once (:func:`split_jsonrpc` makes them an
    envelope).

    Raises:
        ParseError: the body is not JSON, is nested too deep or repeats a member name.
        InvalidRequestError: the body is JSON but not an object (e.g. a batch array).
    """
    value = decode_json(data, strict=True)
    if type(value) is not dict:
        kind = "a batch (array)" if isinstance(value, list) else type(value).__name__
        raise InvalidRequestError(
            f"Invalid request: expected a JSON-RPC request object, got {kind}"
        )
    return value

"""Pure wire translation for the JSON-RPC 2.0 (§9) and HTTP+JSON (§11) bindings.

Both directions, no I/O: the server parses request bytes into an operation and a typed
request value and encodes results, events and errors; the client builds request bytes
and parses answers back into values or the :class:`~accord.errors.ProtocolError` the
server raised. Everything derives from the operations table
(:mod:`accord.protocol.operations`) and the error table (:mod:`accord.protocol.errors`).

* :mod:`accord.bindings.jsonrpc`: envelopes, method dispatch, error codes and ``data``.
* :mod:`accord.bindings.rest`: routes, query strings, AIP-193 error bodies.
* :mod:`accord.bindings.media`: the request Content-Type both accept.
* :mod:`accord.bindings.details`: the typed error details (ErrorInfo, BadRequest) every
  binding carries, gRPC included.
"""

from __future__ import annotations

from accord.bindings import details, jsonrpc, media, rest

__all__ = ["details", "jsonrpc", "media", "rest"]

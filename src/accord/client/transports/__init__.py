"""Client transports: one per binding, plus an in-process ASGI transport for tests.

* :class:`Transport`: the protocol every transport implements (``call``, ``stream``).
* :class:`JsonRpcTransport`: JSON-RPC 2.0 over HTTP (spec §9).
* :class:`RestTransport`: HTTP+JSON (spec §11).
* :class:`TransportOptions`: what a factory of another binding's transport is given
  (``ClientConfig.transports``; gRPC's lives in :mod:`accord.grpc`).
* :class:`MemoryTransport`: an ``httpx`` transport running an ASGI app in-process with
  real streaming, for tests and embedding.
"""

from __future__ import annotations

from .base import Transport, TransportOptions
from .jsonrpc import JsonRpcTransport
from .memory import MemoryTransport
from .rest import RestTransport

__all__ = [
    "JsonRpcTransport",
    "MemoryTransport",
    "RestTransport",
    "Transport",
    "TransportOptions",
]

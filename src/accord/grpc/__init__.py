"""The gRPC binding (spec §10), the ``grpc`` extra: ``pip install 'accord[grpc]'``.

* :class:`GrpcServer`: serves an :class:`~accord.server.Engine` as
  ``lf.a2a.v1.A2AService``, beside (or instead of) the ASGI app, with the same
  authentication, isolation and errors;
* :class:`GrpcTransport`: the client side, used by :class:`~accord.client.Client` for
  an agent's ``GRPC`` interface once this package is imported
  (``ClientConfig(transports=GRPC_TRANSPORTS)``);
* :mod:`accord.grpc.messages`: the compiled ``a2a.proto`` and its bridge to
  :mod:`accord.types`; :mod:`accord.grpc.status`: errors as gRPC statuses.

This is the only package that imports ``grpc`` and ``protobuf``.
"""

from __future__ import annotations

from .client import GRPC_TRANSPORTS, GrpcTransport
from .messages import SERVICE
from .server import BINDING_GRPC, GrpcServer, server_credentials

__all__ = [
    "BINDING_GRPC",
    "GRPC_TRANSPORTS",
    "SERVICE",
    "GrpcServer",
    "GrpcTransport",
    "server_credentials",
]

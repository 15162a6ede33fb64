"""The A2A client: discover an agent, pick an interface, call its operations.

Everyday use::

    from accord.client import Client

    async with await Client.connect("https://agent.example") as client:
        reply = await client.send_message("What's the weather in Paris?")
        print(text_of(reply))
        booked = await client.send_message({"skill": "book", "city": "Paris"})
        print(data_of(booked))
        async with client.send_streaming_message("Write a poem") as stream:
            async for event in stream:
                ...

* :class:`Client`: one async method per A2A operation (spec §3.1); streams are
  :class:`EventStream` async iterators.
* Content helpers (pure, from :mod:`accord.types`, re-exported here): build a
  message with :func:`user_message` (text, dict data, :func:`file_part`,
  :func:`data_part`); read a reply or event with :func:`text_of`, :func:`data_of`,
  :func:`files_of`, :func:`find_artifact`.
* :class:`ClientConfig` / :class:`ClientTimeouts`: frozen configuration.
* :class:`CardResolver`: fetches and caches agent cards (spec §8.2, §8.6);
  :func:`select_interface` applies the interface-selection rules (spec §8.3.2).
* :class:`Transport` and its implementations :class:`JsonRpcTransport`,
  :class:`RestTransport`; :class:`MemoryTransport` runs an ASGI app in-process.
* Discovery (:mod:`accord.client.discovery`): :meth:`Client.discover` (also
  :func:`discover`) searches a registry and returns :class:`Discovered` agents, to
  ``Client.connect(found.agent_url, pin=found.pin)``.
* Credentials (:mod:`accord.client.credentials`): :class:`ApiKey`,
  :class:`BearerToken`, :class:`BasicAuth`, :class:`OAuth2ClientCredentials`,
  :class:`ClientCertificate`, or your own :class:`CredentialProvider`; pass them as
  ``Client.connect(url, credentials=[...])``.
"""

from __future__ import annotations

from accord.types import (
    data_of,
    data_part,
    file_part,
    files_of,
    find_artifact,
    text_of,
    user_message,
)

from .audit import AuditSink, JsonLinesAudit
from .card import CardResolver, select_interface
from .client import Client
from .config import ClientConfig, ClientTimeouts
from .credentials import (
    ApiKey,
    BasicAuth,
    BearerToken,
    ClientCertificate,
    CredentialProvider,
    OAuth2ClientCredentials,
)
from .discovery import Discovered, RegistryError, discover
from .hooks import activating
from .stream import EventStream
from .transports import JsonRpcTransport, MemoryTransport, RestTransport, Transport

__all__ = [
    "ApiKey",
    "AuditSink",
    "BasicAuth",
    "BearerToken",
    "CardResolver",
    "Client",
    "ClientCertificate",
    "ClientConfig",
    "ClientTimeouts",
    "CredentialProvider",
    "Discovered",
    "EventStream",
    "JsonLinesAudit",
    "JsonRpcTransport",
    "MemoryTransport",
    "OAuth2ClientCredentials",
    "RegistryError",
    "RestTransport",
    "Transport",
    "activating",
    "data_of",
    "data_part",
    "discover",
    "file_part",
    "files_of",
    "find_artifact",
    "select_interface",
    "text_of",
    "user_message",
]

"""Call hooks: see every call the client sends, and add headers to it (tracing).

A :class:`CallHook` in :attr:`ClientConfig.hooks <accord.client.ClientConfig.hooks>`
is told when each call to an interface starts (:meth:`CallHook.start`: the operation,
the binding, the URL) and returns a :class:`CallObservation`: the headers to send with
that call (W3C ``traceparent``, for one) and what to tell it when the call ends (for
a stream: when it closes). :mod:`accord.otel` makes a client span of each call and
sends its trace context this way, so the agent's server span is its child.

How the headers reach the wire: while the call's request is sent they are in a
context variable (:func:`call_headers`), which the built-in transports add to their
HTTP headers or gRPC metadata; a transport of your own does the same to carry them.
Hooks are called in order; later headers win. With no hook (the default) nothing here
runs and :func:`call_headers` is empty.

The same channel activates extensions (spec §4.6: the client lists the URIs it wants
active in ``A2A-Extensions``): :func:`activating` adds URIs to the calls sent inside
it, and a message whose ``extensions`` list URIs activates them for its own call.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from accord.protocol.operations import Operation

__all__ = [
    "EXTENSIONS_HEADER",
    "CallHook",
    "CallObservation",
    "activating",
    "call_headers",
    "sending",
    "with_extensions",
]

#: The header (gRPC: metadata ``a2a-extensions``) listing the extensions a call
#: activates, comma-separated (spec §4.6, §10.2).
EXTENSIONS_HEADER = "A2A-Extensions"

_NONE: Mapping[str, str] = MappingProxyType({})
_headers: ContextVar[Mapping[str, str]] = ContextVar(
    "accord_call_headers", default=_NONE
)


class CallObservation(Protocol):
    """One call, as a :class:`CallHook` watches it."""

    @property
    def headers(self) -> Mapping[str, str]:
        """Headers (gRPC: metadata) to send with the call."""
        ...

    def end(self, error: BaseException | None) -> None:
        """The call ended: with ``error``, or None when it succeeded. Must not raise."""
        ...


class CallHook(Protocol):
    """Told of each call the client sends (see the module docstring)."""

    def start(self, operation: Operation, binding: str, url: str) -> CallObservation:
        """A call of ``operation`` starts over ``binding`` to ``url``."""
        ...


def call_headers() -> Mapping[str, str]:
    """The headers the hooks add to the call being sent now (empty without hooks)."""
    return _headers.get()


@contextmanager
def sending(headers: Mapping[str, str]) -> Iterator[None]:
    """Add ``headers`` to the :func:`call_headers` of what is sent inside (they win
    over the same names set outside)."""
    outer = _headers.get()
    token = _headers.set({**outer, **headers} if outer else headers)
    try:
        yield
    finally:
        _headers.reset(token)


def with_extensions(headers: Mapping[str, str], uris: Iterable[str]) -> dict[str, str]:
    """``headers`` with ``uris`` added to their ``A2A-Extensions`` (comma-joined in one
    value, spec §4.6; each URI once, in order)."""
    merged = dict(headers)
    listed = [u.strip() for u in merged.get(EXTENSIONS_HEADER, "").split(",")]
    active = [u for u in listed if u]
    active += [u for u in dict.fromkeys(uris) if u and u not in active]
    if active:
        merged[EXTENSIONS_HEADER] = ", ".join(active)
    return merged


@contextmanager
def activating(*uris: str) -> Iterator[None]:
    """Activate the extensions ``uris`` for every call sent inside (the
    ``A2A-Extensions`` header, gRPC metadata ``a2a-extensions``).

    A stream's request is sent when its first event is awaited: await it inside.
    """
    with sending(with_extensions(_headers.get(), uris)):
        yield

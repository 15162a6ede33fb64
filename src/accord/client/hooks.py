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
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from accord.protocol.operations import Operation

__all__ = ["CallHook", "CallObservation", "call_headers", "sending"]

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
    """Make ``headers`` the :func:`call_headers` of what is sent inside."""
    token = _headers.set(headers)
    try:
        yield
    finally:
        _headers.reset(token)

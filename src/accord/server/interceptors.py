"""Interceptors: the one point where every operation can be observed, refused or timed.

Every operation of every binding reaches the agent through
:meth:`Engine.dispatch <accord.server.engine.Engine.dispatch>`, and there the engine's
interceptors see it: once the request is decoded and its caller authenticated, and
before authorization (tenant, scopes, task boundary) and the operation itself.

An :class:`Interceptor` has two hooks, both optional to override:

* :meth:`~Interceptor.before` gets a :class:`CallInfo` (operation, request, caller,
  tenant, binding, start time). Raise an :mod:`accord.errors` error to refuse the call
  (a rate limit: ``RateLimitedError`` answers 429 with ``Retry-After``, as
  :class:`~accord.server.RateLimiter` does; ``UnavailableError`` 503;
  ``PermissionDeniedError`` 403); the caller receives it exactly as any other error of
  that operation.
* :meth:`~Interceptor.after` gets the same :class:`CallInfo` and the :class:`Outcome`:
  the result or the error, and the duration. For a streaming operation
  (SendStreamingMessage, SubscribeToTask) it is called when the stream ends, with the
  number of events sent, not when the stream starts.

Interceptors nest like layers of an onion: ``before`` hooks run in the order given,
``after`` hooks in the reverse order, and only for interceptors whose ``before`` ran
(an interceptor listed before a refusing one sees the refusal as the outcome). That is
enough for quotas (refuse in ``before``), audit (record in ``after``) and tracing (open
a span in ``before``, keyed by the :class:`CallInfo`, close it in ``after``).

An ``after`` hook that raises is logged and ignored: the caller's answer is already
decided. Requests refused before they are operations (a body over the size limit, a
failed authentication, a malformed request) never reach interceptors.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .streams import HandlerStream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from accord.protocol import Operation
    from accord.types import AgentExtension

    from .auth.principal import Principal
    from .context import CallContext
    from .engine import Engine

__all__ = ["AFTER_TIMEOUT", "CallInfo", "Interceptor", "Outcome", "intercept"]

logger = logging.getLogger(__name__)

#: Seconds an ``after`` hook may take when it runs during a stream's shutdown (it runs
#: shielded from cancellation, so it must be bounded).
AFTER_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, eq=False)
class CallInfo:
    """One operation call, as interceptors see it (hashable by identity).

    Attributes:
        operation: the operation (``operation.name`` is its PascalCase name).
        request: the decoded request (e.g. a ``SendMessageRequest``).
        context: the call context: ``owner``, ``principal``, version, extensions.
        binding: ``"JSONRPC"``, ``"HTTP+JSON"`` or ``"GRPC"`` (the card's protocol
            binding names).
        started: :func:`time.monotonic` when the engine received the call.
    """

    operation: Operation
    request: Any
    context: CallContext
    binding: str
    started: float

    @property
    def principal(self) -> Principal | None:
        """The authenticated caller, None when anonymous."""
        return self.context.principal

    @property
    def tenant(self) -> str:
        """The tenant the request addresses (``""``: the default one)."""
        return str(getattr(self.request, "tenant", "") or "")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an operation ended.

    Attributes:
        duration: seconds from :attr:`CallInfo.started` to the end (for a stream: to
            its last event or its closing).
        result: the response value (None after an error, and for a stream).
        error: the error the caller received (usually an :mod:`accord.errors` error;
            anything else reaches the caller as an internal error).
        streamed: True for a streaming operation whose stream started.
        events: the events a stream handed to the binding.
        finished: False when a stream was closed before its end (the client left).
    """

    duration: float
    result: Any = None
    error: Exception | None = None
    streamed: bool = False
    events: int = 0
    finished: bool = True

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.error is None


class Interceptor:
    """Base class of interceptors: override :meth:`before`, :meth:`after`, or both.

    Two more hooks are optional: :meth:`serving` (a lifetime beside the engine's, to
    open connections or read its counts) and :meth:`card_extensions` (what the
    interceptor promises callers, declared in the public card).
    """

    def serving(self, engine: Engine) -> AbstractAsyncContextManager[None]:
        """Entered while ``engine`` runs: after its store and runtime start, left
        before they stop (default: nothing to do)."""
        return nullcontext()

    def card_extensions(self) -> tuple[AgentExtension, ...]:
        """Extensions the public card declares for this interceptor (default: none)."""
        return ()

    async def before(self, call: CallInfo) -> None:
        """Called before the operation; raise an ``accord.errors`` error to refuse it."""

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        """Called once the operation ended (a stream: once it closed)."""


async def intercept(
    interceptors: Sequence[Interceptor],
    call: CallInfo,
    proceed: Callable[[], Awaitable[Any]],
) -> Any:
    """Run ``proceed`` inside ``interceptors`` (see the module docstring)."""
    entered: list[Interceptor] = []
    try:
        for interceptor in interceptors:
            await interceptor.before(call)
            entered.append(interceptor)
        result = await proceed()
    except Exception as exc:
        outcome = Outcome(duration=time.monotonic() - call.started, error=exc)
        await _after(entered, call, outcome)
        raise
    if isinstance(result, HandlerStream):

        async def on_end(error: Exception | None, events: int, finished: bool) -> None:
            outcome = Outcome(
                duration=time.monotonic() - call.started,
                error=error,
                streamed=True,
                events=events,
                finished=finished,
            )
            with anyio.move_on_after(AFTER_TIMEOUT, shield=True):
                await _after(entered, call, outcome)

        return result.observed(on_end)
    await _after(
        entered, call, Outcome(duration=time.monotonic() - call.started, result=result)
    )
    return result


async def _after(
    entered: Sequence[Interceptor], call: CallInfo, outcome: Outcome
) -> None:
    for interceptor in reversed(entered):
        try:
            await interceptor.after(call, outcome)
        except Exception:
            logger.exception(
                "interceptor %r failed after %s; the answer is unchanged",
                interceptor,
                call.operation.name,
            )

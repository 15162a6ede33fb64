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

An interceptor may also change what the operation runs with: :meth:`~Interceptor.rewrite`
gets the request (as rewritten by the interceptors before it) once every ``before`` hook
has run, and returns the request to run instead (data minimisation strips fields the
agent did not declare there); it may raise to refuse, as ``before`` may.
:attr:`CallInfo.request` stays the request as received.

An ``after`` hook that raises is logged and ignored: the caller's answer is already
decided. Requests refused before they are operations (a body over the size limit, a
failed authentication, a malformed request) never reach interceptors.

Three more hooks serve observability (tracing and metrics, :mod:`accord.otel`), each
optional and free when not overridden (the engine collects the interceptors that
override them when it starts):

* :meth:`~Interceptor.around` returns a context manager the operation's handler runs
  in: what it makes current (a span, in a context variable) is current for the
  handler and for the executions it starts, which inherit the request's context.
* :meth:`~Interceptor.executing` returns a context manager each execution of the agent
  runs in (in the execution's own task): an execution span, current while the agent
  runs, so the calls the agent makes carry it. :class:`ExecutionInfo` says which
  task, and how it ended once the context is left.
* :meth:`~Interceptor.push_delivery` is told each push notification attempt's outcome.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractAsyncContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .streams import HandlerStream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from contextlib import AbstractContextManager

    from accord.protocol import Operation
    from accord.types import AgentExtension, SendMessageRequest, TaskState

    from .auth.principal import Principal
    from .context import CallContext
    from .engine import Engine

__all__ = [
    "AFTER_TIMEOUT",
    "CallInfo",
    "ExecutionInfo",
    "Interceptor",
    "Outcome",
    "PushOutcome",
    "intercept",
    "overrides",
]

#: How one push notification attempt ended: ``delivered`` (a 2xx), ``failed`` (retried
#: later) or ``dead_letter`` (given up: the config is dead-lettered).
PushOutcome = Literal["delivered", "failed", "dead_letter"]

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


@dataclass(frozen=True, slots=True, eq=False)
class ExecutionInfo:
    """One execution of the agent for one incoming message (hashable by identity).

    Attributes:
        task_id: the task's id.
        context_id: the task's context id.
        request: the SendMessage request the execution runs.
        agent: the agent's name.
        skill: the id of the agent's skill when it declares exactly one (the request
            names none, spec §3.1.1), else ``""``.
        attempt: 1 for the first run; more when an instance re-runs a task it took
            over.
        queued: True when the execution was claimed from the queue (another request,
            maybe another instance, accepted it: the request's context is not here).
    """

    task_id: str
    context_id: str
    request: SendMessageRequest
    agent: str
    skill: str
    attempt: int
    queued: bool
    _state: Callable[[], TaskState | None]
    _error: Callable[[], Exception | None]

    @property
    def state(self) -> TaskState | None:
        """The task's state as this execution last wrote it (None before its first
        write); once the execution's context is left, the state it ended in."""
        return self._state()

    @property
    def error(self) -> Exception | None:
        """The exception the agent raised, if any (it failed the task)."""
        return self._error()


class Interceptor:
    """Base class of interceptors: override :meth:`before`, :meth:`after`, or both.

    More hooks are optional: :meth:`serving` (a lifetime beside the engine's, to
    open connections or read its counts), :meth:`card_extensions` (what the
    interceptor promises callers, declared in the public card), :meth:`rewrite` (the
    request the operation runs with instead), and the
    observability hooks :meth:`around`, :meth:`executing` and :meth:`push_delivery`
    (see the module docstring).
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

    def rewrite(self, call: CallInfo, request: Any) -> Any:
        """The request the operation runs with, given ``request`` (the default:
        unchanged); raise an ``accord.errors`` error to refuse the call."""
        return request

    def around(self, call: CallInfo) -> AbstractContextManager[object] | None:
        """A context manager the operation's handler runs in, entered after every
        ``before`` hook, in the request's task; None (the default): none."""
        return None

    def executing(self, run: ExecutionInfo) -> AbstractContextManager[object] | None:
        """A context manager one execution of the agent runs in, in the execution's
        task; None (the default): none. It must not raise."""
        return None

    def push_delivery(self, task_id: str, outcome: PushOutcome) -> None:
        """Told how one push notification attempt for ``task_id`` ended; must not
        raise or suspend."""


def overrides(interceptor: Interceptor, hook: str) -> bool:
    """True when ``interceptor``'s class overrides the :class:`Interceptor` method
    ``hook`` (the engine passes on only hooks that do something)."""
    return getattr(type(interceptor), hook) is not getattr(Interceptor, hook)


async def intercept(
    interceptors: Sequence[Interceptor],
    call: CallInfo,
    proceed: Callable[[Any], Awaitable[Any]],
) -> Any:
    """Run ``proceed`` (given the request, as rewritten) inside ``interceptors`` (see
    the module docstring)."""
    entered: list[Interceptor] = []
    try:
        for interceptor in interceptors:
            await interceptor.before(call)
            entered.append(interceptor)
        request = call.request
        for interceptor in entered:
            if overrides(interceptor, "rewrite"):
                request = interceptor.rewrite(call, request)
        scopes = [s for i in entered if (s := i.around(call)) is not None]
        if scopes:
            with ExitStack() as stack:
                for scope in scopes:
                    stack.enter_context(scope)
                result = await proceed(request)
        else:
            result = await proceed(request)
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

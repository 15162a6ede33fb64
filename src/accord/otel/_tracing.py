"""Spans: one per operation served, one per execution of the agent, one per call sent.

Theory of operation.

* **Server** (:class:`Tracing`, an :class:`~accord.server.Interceptor`). ``before``
  reads the caller's W3C trace context from the request's headers (HTTP) or metadata
  (gRPC) through the configured propagator (W3C ``traceparent``/``tracestate`` by
  default) and starts a SERVER span named after the operation, its child. ``around``
  makes that span current while the handler runs, so an execution the handler starts
  (in the runtime's task group, which copies the request's context, or inline for a
  blocking SendMessage) is its child. ``after`` adds what the answer says (the task
  and context ids of a new task) and ends it; for a stream that is when the stream
  closes.
* **Execution** (``executing``). Each execution of the agent runs in an INTERNAL span
  that is current in the execution's task for as long as the agent runs, with the
  task's ids, the skill (when the agent has one) and, at the end, the state the task
  was left in. So the calls the agent makes with an Accord client that traces
  (:class:`ClientTracing`) are children of it, and their servers' spans too: one
  trace from the first caller through every agent. An execution claimed from the
  queue has no request here: its span starts a trace of its own.
* **Client** (:class:`ClientTracing`, a :class:`~accord.client.hooks.CallHook`). Each
  call to an interface is a CLIENT span, child of whatever span is current where the
  call is made; its context travels in the call's headers (gRPC metadata).

Errors: a span whose operation failed has status ERROR with the error's spec reason as
description; an unexpected exception (not an A2A error) is also recorded as an event.
A client that stops reading a stream is not an error.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from accord._version import __version__
from accord.errors import A2AError
from accord.server.interceptors import Interceptor

from . import _attributes as a

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.trace import Span, TracerProvider

    from accord.protocol.operations import Operation
    from accord.server.interceptors import CallInfo, ExecutionInfo, Outcome

__all__ = ["ClientTracing", "Tracing", "current_ids"]

#: The instrumentation scope's name (the tracer's and the meter's).
SCOPE = "accord"


class _HeaderGetter(Getter["Callable[[str], str | None]"]):
    """Reads a propagator's fields with a request's header lookup (lower-case names:
    HTTP headers are case-insensitive, gRPC metadata keys lower-case)."""

    def get(self, carrier: Callable[[str], str | None], key: str) -> list[str] | None:
        value = carrier(key.lower())
        return None if value is None else [value]

    def keys(self, carrier: Callable[[str], str | None]) -> list[str]:
        return []  # not enumerable; the W3C propagators ask for their fields by name


_GETTER = _HeaderGetter()


def _failed(span: Span, error: BaseException) -> None:
    span.set_status(Status(StatusCode.ERROR, a.outcome_of(error)))
    if not isinstance(error, A2AError):
        span.record_exception(error)


class Tracing(Interceptor):
    """Server and execution spans (see the module docstring).

    Args:
        tracer_provider: where spans go (default: the global one,
            ``opentelemetry.trace.get_tracer_provider()``).
        propagator: reads the caller's trace context (default: the global one,
            ``opentelemetry.propagate``: W3C trace context and baggage unless
            ``OTEL_PROPAGATORS`` says otherwise).
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(
            SCOPE, __version__, tracer_provider=tracer_provider
        )
        self._propagator = propagator
        #: The span of each call between ``before`` and ``after`` (at most one per
        #: call in flight, which the front ends bound).
        self._spans: dict[CallInfo, Span] = {}

    def __repr__(self) -> str:
        return "Tracing()"

    async def before(self, call: CallInfo) -> None:
        """Start the operation's SERVER span, child of the caller's trace context."""
        header = call.context.header
        if self._propagator is None:
            parent = propagate.extract(header, getter=_GETTER)
        else:
            parent = self._propagator.extract(header, getter=_GETTER)
        name = call.operation.name
        attributes: dict[str, Any] = {
            a.RPC_SYSTEM: a.SYSTEM,
            a.RPC_METHOD: name,
            a.BINDING: call.binding,
        }
        task_id, context_id = a.ids_of(call.request)
        if task_id:
            attributes[a.TASK_ID] = task_id
        if context_id:
            attributes[a.CONTEXT_ID] = context_id
        if call.tenant:
            attributes[a.TENANT] = call.tenant
        self._spans[call] = self._tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )

    def around(self, call: CallInfo) -> Any:
        """Make the call's span current while its handler runs."""
        # The outcome is recorded once, by ``after``, from what the caller received.
        return trace.use_span(
            self._spans[call],  # ``before`` ran: the engine calls ``around`` after it
            end_on_exit=False,
            record_exception=False,
            set_status_on_exception=False,
        )

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        """Add the answer's task ids and the outcome; end the span."""
        span = self._spans.pop(call)  # ``before`` ran: ``after`` follows only then
        task_id, context_id = a.ids_of(outcome.result)
        added: dict[str, Any] = {}
        if task_id:
            added[a.TASK_ID] = task_id
        if context_id:
            added[a.CONTEXT_ID] = context_id
        if outcome.streamed:
            added["a2a.stream.events"] = outcome.events
        if added:
            span.set_attributes(added)
        if outcome.error is not None:
            _failed(span, outcome.error)
        span.end()

    def executing(self, run: ExecutionInfo) -> Any:
        """The execution's span, current while the agent runs."""
        return self._execution(run)

    @contextmanager
    def _execution(self, run: ExecutionInfo) -> Iterator[None]:
        attributes: dict[str, Any] = {
            a.TASK_ID: run.task_id,
            a.CONTEXT_ID: run.context_id,
            a.AGENT: run.agent,
            a.ATTEMPT: run.attempt,
        }
        if run.skill:
            attributes[a.SKILL] = run.skill
        with self._tracer.start_as_current_span(
            f"{run.agent} execute",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            finally:
                state = run.state
                if state is not None:
                    span.set_attribute(a.STATE, state.value)
                if run.error is not None:
                    _failed(span, run.error)


class _ClientCall:
    """One call's CLIENT span and the headers that carry its context."""

    __slots__ = ("_span", "headers")

    def __init__(self, span: Span, headers: Mapping[str, str]) -> None:
        self._span = span
        self.headers = headers

    def end(self, error: BaseException | None) -> None:
        if error is not None:
            _failed(self._span, error)
        self._span.end()


class ClientTracing:
    """A client call hook (:attr:`ClientConfig.hooks
    <accord.client.ClientConfig.hooks>`): a CLIENT span per call, its W3C trace
    context sent in the call's headers (gRPC metadata).

    Args:
        tracer_provider: where spans go (default: the global one).
        propagator: writes the trace context (default: the global one).

    Example::

        config = ClientConfig(hooks=(ClientTracing(),))
        async with await Client.connect(url, config=config) as client:
            await client.send_message("hello")  # traced, and the agent's spans join
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        self._tracer = trace.get_tracer(
            SCOPE, __version__, tracer_provider=tracer_provider
        )
        self._propagator = propagator

    def __repr__(self) -> str:
        return "ClientTracing()"

    def start(self, operation: Operation, binding: str, url: str) -> _ClientCall:
        """Start the call's span; its context goes in the call's headers."""
        span = self._tracer.start_span(
            operation.name,
            kind=SpanKind.CLIENT,
            attributes={
                a.RPC_SYSTEM: a.SYSTEM,
                a.RPC_METHOD: operation.name,
                a.BINDING: binding,
                a.URL: url,
            },
        )
        headers: dict[str, str] = {}
        context = trace.set_span_in_context(span)
        if self._propagator is None:
            propagate.inject(headers, context=context)
        else:
            self._propagator.inject(headers, context=context)
        return _ClientCall(span, headers)


def current_ids() -> tuple[str, str] | None:
    """``(trace id, span id)`` of the current span in hex (W3C form), None when no
    span is recording: what JSON log lines carry to join the traces."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")

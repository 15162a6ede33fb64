"""RequestHandler: one async method per A2A operation, independent of the binding.

Bindings decode a request into the operation's request type; the handler applies the
spec's rules (spec §3.1) and returns the response value or an
:class:`HandlerStream`; errors are raised as :mod:`accord.errors` classes and the
bindings translate them. :meth:`RequestHandler.dispatch` first authorizes the call
(:mod:`accord.server.auth.access`: tenant binding, operation scopes, the task boundary)
from the caller and the request's tenant alone; every store read is then scoped to that
boundary (tenant + owner by default): a task outside it is reported exactly like a
missing one (spec §13.1).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from accord._quote import shorten
from accord.errors import (
    ConflictError,
    ExtendedAgentCardNotConfiguredError,
    InternalError,
    InvalidParamsError,
    PushNotificationNotSupportedError,
    StoreError,
    TaskNotCancelableError,
    TaskNotFoundError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedOperationError,
)
from accord.protocol import Operation, lifecycle
from accord.stores.base import MAX_PAGE_SIZE, Scope, StoredEvent, TaskQuery, TaskRecord
from accord.types import (
    AgentCard,
    AgentInterface,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    Empty,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    SendMessageRequest,
    SendMessageResponse,
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
    replace,
)

from . import replay
from .auth.access import AccessPolicy
from .capabilities import Capabilities
from .card import interfaces
from .intake import Replay, check_history_length, prepare, trim_task
from .streams import Events, HandlerStream, live_events, state_after

if TYPE_CHECKING:
    from .auth.principal import Principal
    from .context import CallContext
    from .events import Subscription
    from .push.configs import PushConfigs
    from .runtime import Execution, Runtime

__all__ = [
    "CANCEL_WAIT",
    "DEFAULT_PAGE_SIZE",
    "ExtendedCardSource",
    "RequestHandler",
    "trim_task",
]

#: ListTasks page size when the request sets none (spec §3.1.4).
DEFAULT_PAGE_SIZE = 50
#: How long CancelTask waits for a running agent to stop before answering.
CANCEL_WAIT = 10.0
#: Seconds between store reads while CancelTask waits for another instance to record
#: the cancellation (when no task event wakes it first).
CANCEL_POLL = 0.05


#: Builds the extended card for an authenticated caller (spec §3.1.11: it may differ
#: per caller, e.g. per tenant or scope).
ExtendedCardSource = Callable[["Principal"], AgentCard | Awaitable[AgentCard]]


class RequestHandler:
    """Implements the eleven operations for one agent over one runtime."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        extended_card: ExtendedCardSource | None = None,
        access: AccessPolicy | None = None,
        advertised: Callable[[], tuple[AgentInterface, ...]] = tuple,
    ) -> None:
        self.runtime = runtime
        self._advertised = advertised
        self.agent = runtime.agent
        self.store = runtime.store
        self._extended_card = extended_card
        self.access = access if access is not None else AccessPolicy()
        self._capabilities = Capabilities(self.agent)
        self._methods: dict[str, Callable[[Any, CallContext], Awaitable[Any]]] = {
            "SendMessage": self.send_message,
            "SendStreamingMessage": self.send_streaming_message,
            "GetTask": self.get_task,
            "ListTasks": self.list_tasks,
            "CancelTask": self.cancel_task,
            "SubscribeToTask": self.subscribe_to_task,
            "CreateTaskPushNotificationConfig": self.create_push_config,
            "GetTaskPushNotificationConfig": self.get_push_config,
            "ListTaskPushNotificationConfigs": self.list_push_configs,
            "DeleteTaskPushNotificationConfig": self.delete_push_config,
            "GetExtendedAgentCard": self.get_extended_agent_card,
        }

    def dispatch(
        self,
        operation: Operation,
        params: Any,
        ctx: CallContext,
        *,
        last_event_id: str | None = None,
    ) -> Awaitable[Any]:
        """Run ``operation``: authorization (:mod:`accord.server.auth.access`; raises
        PermissionDeniedError or UnauthenticatedError), capability check, then the
        method. Await what this returns: the method's own coroutine when the
        boundary is the default one (one frame fewer per request).

        ``last_event_id`` (SSE ``Last-Event-ID``) applies to SubscribeToTask.
        """
        # Authorization first, before any store lookup (spec §13.1): the tenant and
        # the operation's scopes, then the task boundary. The default boundary (the
        # request's tenant, the caller's own tasks) is what ctx.scope(tenant) gives,
        # so ctx stays as it is; a task_access hook's is set on a new context.
        tenant = getattr(params, "tenant", "") or ""
        if self.access.check(operation.name, tenant, ctx.principal):
            return self._decided(operation, params, ctx, tenant, last_event_id)
        return self._method(operation, params, ctx, last_event_id)

    async def _decided(
        self,
        operation: Operation,
        params: Any,
        ctx: CallContext,
        tenant: str,
        last_event_id: str | None,
    ) -> Any:
        """:meth:`dispatch` once the ``task_access`` hook has decided the boundary."""
        boundary = await self.access.decide(
            operation.name, tenant, ctx.principal, ctx.owner
        )
        return await self._method(
            operation, params, ctx.with_boundary(boundary), last_event_id
        )

    def _method(
        self,
        operation: Operation,
        params: Any,
        ctx: CallContext,
        last_event_id: str | None,
    ) -> Awaitable[Any]:
        """The capability check, then the coroutine of the operation's method."""
        self._capabilities.check(operation, ctx.extensions)
        if operation.name == "SubscribeToTask":
            return self.subscribe_to_task(params, ctx, last_event_id=last_event_id)
        return self._methods[operation.name](params, ctx)

    def check_capability(self, operation: Operation) -> None:
        """Refuse operations the card does not declare (spec §3.3.4)."""
        self._capabilities.check(operation)

    # --- SendMessage / SendStreamingMessage ---------------------------------------------

    def _check_idle(self, execution: Execution) -> None:
        if self.runtime.live(execution.task_id) is not None:
            raise UnsupportedOperationError(
                f"Task {execution.task_id} is already processing a message",
                metadata={"taskId": execution.task_id},
            )

    async def _start(
        self, execution: Execution, record: TaskRecord | None
    ) -> Subscription:
        self._check_idle(execution)
        sub = self.subscribe(execution.task_id, execution.scope)
        if record is not None:
            # A follow-up: its stream starts after the task's current version, so a
            # wake-up before its first event (TaskEvents may send one at any time)
            # reads the log from there, not the earlier turns again.
            sub.last_seq = record.version
        try:
            await self.runtime.start(execution, record)
        except BaseException:
            sub.close()
            raise
        return sub

    def subscribe(self, task_id: str, scope: Scope) -> Subscription:
        """Follow ``task_id``'s events, catching up from the store within ``scope``."""

        async def catch_up(after: int) -> list[StoredEvent]:
            return await self.store.events(task_id, after=after, scope=scope)

        return self.runtime.events.subscribe(task_id, catch_up=catch_up)

    async def _reload(self, task_id: str, scope: Scope) -> Task:
        record = await self.store.get(task_id, scope=scope)
        if record is None:
            raise InternalError(f"Task {task_id} vanished while it was running")
        return record.task

    async def send_message(
        self, req: SendMessageRequest, ctx: CallContext
    ) -> SendMessageResponse:
        """SendMessage (spec §3.1.1): blocking by default, or ``returnImmediately``."""
        prepared = await prepare(req, ctx, self.runtime)
        config = req.configuration
        immediately = config is not None and config.return_immediately
        history = None if config is None else config.history_length
        if isinstance(prepared, Replay):
            replayed = await replay.settled(self, prepared, wait=not immediately)
            return SendMessageResponse(task=trim_task(replayed.task, history))
        execution, record = prepared
        last: Task | None = None
        if not immediately and self.runtime.can_run_inline():
            # The call waits for the turn to end anyway: run it in this task, and the
            # answer is what the execution ended with (no subscription, no wake-ups).
            self._check_idle(execution)
            await self.runtime.run_inline(execution, record)
            recorder = execution.recorder
            if recorder.reply_message is not None:
                return SendMessageResponse(message=recorder.reply_message)
            last = recorder.written_task
            if last is None:
                raise self._no_task(execution)
            return SendMessageResponse(task=trim_task(last, history))
        with await self._start(execution, record) as sub:
            # One turn of the event loop first: the execution was just scheduled, and
            # an agent that never waits (the store does not suspend) has ended by then,
            # so its updates are queued and the loop below needs no wake-up Event.
            await anyio.lowlevel.checkpoint()
            async for update in sub:
                if update.final:
                    last = update.task or last
                    break
                event = update.event
                assert event is not None
                if event.message is not None:
                    return SendMessageResponse(message=event.message)
                # An update read back from the log carries no snapshot; its creation
                # event does (the task as created: what returnImmediately answers,
                # spec §3.1.1, also when another instance has already moved it on).
                last = (
                    update.task
                    or event.task
                    or await self._reload(execution.task_id, execution.scope)
                )
                if immediately or lifecycle.ends_stream(last.status.state):
                    break
        if last is None:
            raise self._no_task(execution)
        return SendMessageResponse(task=trim_task(last, history))

    @staticmethod
    def _no_task(execution: Execution) -> Exception:
        """Why a blocking send that ended with neither a task nor a reply fails."""
        error = execution.error
        if isinstance(error, UnavailableError):
            # The store was down before the task was created: nothing was kept.
            return error
        if isinstance(error, StoreError):
            return InternalError(
                "The task store failed before the task was created; nothing was kept"
            )
        return InternalError("The agent ended without a task or a reply")

    async def send_streaming_message(
        self, req: SendMessageRequest, ctx: CallContext
    ) -> HandlerStream:
        """SendStreamingMessage (spec §3.1.2): a task snapshot first, then its events."""
        prepared = await prepare(req, ctx, self.runtime)
        if isinstance(prepared, Replay):
            return replay.stream(self, prepared)
        execution, record = prepared
        sub = await self._start(execution, record)
        return HandlerStream(sub, self._turn_events(sub, execution))

    async def _turn_events(self, sub: Subscription, x: Execution) -> Events:
        first = True
        async for update in sub:
            if update.final:
                if first and x.error is not None and not x.recorder.created:
                    raise self._no_task(x)  # the store failed before the task existed
                return
            event = update.event
            assert event is not None
            if event.message is not None:
                yield None, event  # spec §4.1: a message-only stream is one message
                return
            if first and event.task is None:
                # The stream's first event is the task (spec §3.1.2, §3.1.6); on a follow-up that
                # is the snapshot after the resume.
                snapshot = update.task or await self._reload(x.task_id, x.scope)
                event = StreamResponse(task=snapshot)
            first = False
            yield update.seq, event
            state = state_after(update)
            if state is not None and lifecycle.ends_stream(state):
                return

    # --- Get / List / Cancel / Subscribe ------------------------------------------------

    async def visible(self, task_id: str, scope: Scope) -> TaskRecord:
        """The task if ``scope`` may see it; else TaskNotFoundError (spec §13.1)."""
        record = await self.store.get(task_id, scope=scope)
        if record is None:
            raise TaskNotFoundError(
                f"Task {shorten(task_id)} not found",
                metadata={"taskId": shorten(task_id)},
            )
        return record

    async def get_task(self, req: GetTaskRequest, ctx: CallContext) -> Task:
        """GetTask (spec §3.1.3)."""
        check_history_length(req.history_length, "historyLength")
        record = await self.visible(req.id, ctx.scope(req.tenant))
        return trim_task(record.task, req.history_length)

    async def list_tasks(
        self, req: ListTasksRequest, ctx: CallContext
    ) -> ListTasksResponse:
        """ListTasks (spec §3.1.4): filters, newest first, cursor pages."""
        size = DEFAULT_PAGE_SIZE if req.page_size is None else req.page_size
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidParamsError(
                f"pageSize must be between 1 and {MAX_PAGE_SIZE} (got {size})",
                field_violations=[
                    ("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
                ],
            )
        check_history_length(req.history_length, "historyLength")
        page = await self.store.list(
            TaskQuery(
                scope=ctx.scope(req.tenant),
                context_id=req.context_id,
                state=None if req.status is TaskState.UNSPECIFIED else req.status,
                status_after=req.status_timestamp_after,
                page_size=size,
                cursor=req.page_token,
            )
        )
        artifacts = bool(req.include_artifacts)
        return ListTasksResponse(
            tasks=tuple(
                trim_task(t, req.history_length, artifacts=artifacts)
                for t in page.tasks
            ),
            next_page_token=page.next_cursor,
            page_size=size,
            total_size=page.total_size,
        )

    async def cancel_task(self, req: CancelTaskRequest, ctx: CallContext) -> Task:
        """CancelTask (spec §3.1.5): reaches the running agent; the task ends CANCELED."""
        scope = ctx.scope(req.tenant)
        record = await self.visible(req.id, scope)
        execution = self.runtime.live(req.id)
        signalled = False
        if lifecycle.is_terminal(record.task.status.state):
            pass
        elif execution is not None:
            execution.cancel("canceled by client")
            with anyio.move_on_after(CANCEL_WAIT):
                await execution.done.wait()
            record = await self.visible(req.id, scope)
        elif await self.store.withdraw(req.id):
            # Queued (accord.server.queue): nobody runs it and now nobody will; it
            # ends CANCELED below, at once.
            pass
        elif await self.store.request_cancel(req.id):
            # Another instance runs it: the cancel wake-up makes it read the stored
            # request at once (else it finds it at its next heartbeat); it records
            # CANCELED, whose event wakes _await_end here.
            self.runtime.events.cancel_requested(req.id)
            signalled = True
            record = await self._await_end(req.id, scope)
        while True:
            state = record.task.status.state
            if lifecycle.is_terminal(state):
                if state is TaskState.CANCELED and (execution or signalled):
                    return record.task
                raise TaskNotCancelableError(
                    f"Task {req.id} is {state.name} and can no longer be canceled",
                    metadata={"taskId": req.id, "state": state.value},
                )
            try:
                record = await self.runtime.force_state(
                    record, TaskState.CANCELED, None
                )
                return record.task
            except ConflictError:
                record = await self.visible(req.id, scope)

    async def _await_end(self, task_id: str, scope: Scope) -> TaskRecord:
        """Wait (at most CANCEL_WAIT) for a task running elsewhere to end; reload it.

        Woken by the task's events when they cross instances; otherwise the store is
        read every :data:`CANCEL_POLL` seconds.
        """
        with anyio.move_on_after(CANCEL_WAIT):
            return await self.await_state(
                task_id, scope, lifecycle.is_terminal, poll=CANCEL_POLL
            )
        return await self.visible(task_id, scope)

    async def await_state(
        self,
        task_id: str,
        scope: Scope,
        done: Callable[[TaskState], bool],
        *,
        poll: float,
    ) -> TaskRecord:
        """The task once its state is ``done``: read again whenever its events say it
        changed, and at least every ``poll`` seconds (wake-ups do not cross processes
        that share a SQLite file)."""
        with self.subscribe(task_id, scope) as sub:
            while True:
                record = await self.visible(task_id, scope)
                if done(record.task.status.state):
                    return record
                with anyio.move_on_after(poll):
                    async for _ in sub:
                        break

    async def subscribe_to_task(
        self,
        req: SubscribeToTaskRequest,
        ctx: CallContext,
        *,
        last_event_id: str | None = None,
    ) -> HandlerStream:
        """SubscribeToTask (spec §3.1.6): snapshot (or the missed events), then live events.

        With ``last_event_id`` (SSE ``Last-Event-ID``) the stream starts with the events
        after that sequence number instead of a snapshot, so a reconnecting subscriber
        gets exactly what it missed.
        """
        scope = ctx.scope(req.tenant)
        record = await self.visible(req.id, scope)
        if self.runtime.draining:
            # A new stream now would only be ended by the shutdown it cannot outlive.
            raise UnavailableError(
                "The agent is shutting down; subscribe again in a moment",
                metadata={"taskId": req.id},
            )
        after: int | None = None
        if last_event_id is not None:
            if not last_event_id.strip().isdigit():
                raise InvalidParamsError(
                    f"Last-Event-ID must be an event sequence number (got {last_event_id!r})",
                    field_violations=[
                        ("Last-Event-ID", "must be a non-negative integer")
                    ],
                )
            after = int(last_event_id)
        elif lifecycle.is_terminal(record.task.status.state):
            raise UnsupportedOperationError(
                f"Task {req.id} is {record.task.status.state.name}; a finished task cannot be "
                "subscribed to — use GetTask",
                metadata={"taskId": req.id},
            )
        sub = self.subscribe(req.id, scope)
        return HandlerStream(sub, self._subscription_events(sub, req.id, scope, after))

    async def _subscription_events(
        self, sub: Subscription, task_id: str, scope: Scope, after: int | None
    ) -> Events:
        record = await self.visible(task_id, scope)  # re-read: nothing falls in the gap
        if after is None:
            yield record.version, StreamResponse(task=record.task)
            sub.last_seq = record.version
            if lifecycle.is_terminal(record.task.status.state):
                return
        else:
            # The position is known before any event: a wake-up that arrives before
            # the log grows past ``after`` must read from there, not from the start.
            sub.last_seq = after
            for stored in await self.store.events(task_id, after=after, scope=scope):
                yield stored.seq, stored.event
                sub.last_seq = stored.seq
            if (
                lifecycle.is_terminal(record.task.status.state)
                and sub.last_seq >= record.version
            ):
                return
        # spec §3.1.6: a subscription ends when the task is terminal.
        async with aclosing(live_events(sub, lifecycle.is_terminal)) as events:
            async for seq, event in events:
                yield seq, event

    # --- push configs (spec §3.1.7-§3.1.10; dispatch checks the capability) ---------

    async def create_push_config(
        self, req: TaskPushNotificationConfig, ctx: CallContext
    ) -> TaskPushNotificationConfig:
        """CreateTaskPushNotificationConfig (spec §3.1.7)."""
        push = self._push()
        push.check(req, "")
        return await push.create(req.task_id, req, scope=ctx.scope(req.tenant))

    async def get_push_config(
        self, req: GetTaskPushNotificationConfigRequest, ctx: CallContext
    ) -> TaskPushNotificationConfig:
        """GetTaskPushNotificationConfig (spec §3.1.8)."""
        return await self._push().get(req.task_id, req.id, scope=ctx.scope(req.tenant))

    async def list_push_configs(
        self, req: ListTaskPushNotificationConfigsRequest, ctx: CallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        """ListTaskPushNotificationConfigs (spec §3.1.9): a task not visible is not
        found; a visible one may have no configs."""
        push = self._push()
        scope = ctx.scope(req.tenant)
        await self.visible(req.task_id, scope)
        return await push.list(
            req.task_id, scope=scope, page_size=req.page_size, cursor=req.page_token
        )

    async def delete_push_config(
        self, req: DeleteTaskPushNotificationConfigRequest, ctx: CallContext
    ) -> Empty:
        """DeleteTaskPushNotificationConfig (spec §3.1.10): idempotent for a visible
        task; a task not visible is not found."""
        push = self._push()
        scope = ctx.scope(req.tenant)
        await self.visible(req.task_id, scope)
        await push.delete(req.task_id, req.id, scope=scope)
        return Empty()

    def _push(self) -> PushConfigs:
        push = self.runtime.push
        if push is None:
            # Reached only if a caller skips dispatch(), which checks the card.
            raise PushNotificationNotSupportedError(
                "This agent does not support push notifications"
            )
        return push

    # --- extended card ------------------------------------------------------------------

    async def get_extended_agent_card(
        self, req: GetExtendedAgentCardRequest, ctx: CallContext
    ) -> AgentCard:
        """GetExtendedAgentCard (spec §3.1.11): only for authenticated callers."""
        if ctx.principal is None:
            # spec §13.3: the extended card always requires authentication.
            raise UnauthenticatedError(
                "The extended agent card requires authentication"
            )
        if self._extended_card is None:
            raise ExtendedAgentCardNotConfiguredError(
                "The card declares an extended agent card, but none is configured"
            )
        card = self._extended_card(ctx.principal)
        if inspect.isawaitable(card):
            card = await card
        if not card.supported_interfaces:
            # An extended card that lists no interfaces is served at the same ones as
            # the public card: the HTTP ones as this caller sees them (proxy headers
            # included; a gRPC caller has no HTTP base URL), then the other front
            # ends' (gRPC) while they listen.
            base_url = ctx.base_url
            listed = (interfaces(base_url) if base_url else ()) + self._advertised()
            card = replace(card, supported_interfaces=listed)
        return card

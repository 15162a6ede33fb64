"""MCP inside an agent: the agent calls the tools of the MCP servers it declares.

Theory of operation. :class:`McpTools` is an :class:`~accord.server.Interceptor`
(core Accord knows nothing of MCP; this plugs in): give it to the app with the
servers the agent uses, ``A2AApp(agent, interceptors=[McpTools(servers)])``.

* While the engine serves (:meth:`McpTools.serving`), it owns a task group and one
  :class:`~accord.mcp._pool.SessionPool` per server: sessions open on first use, at
  most ``sessions`` per server (a call waits for a free one, or for a new one to
  open, at most ``connect_timeout``), each call bounded by ``timeout``; all are
  closed when the engine stops.
* Each execution of the agent runs inside :meth:`McpTools.executing`, which makes
  the execution's :class:`ToolBox` current (a context variable, so only that
  execution's task and the tasks it starts see it). In the agent,
  :func:`mcp_tools` returns it::

      tools = mcp_tools(ctx)
      result = await tools.call("desk", "book_callback", {"phone": "+1..."})
      await tools.call("desk", "call_summary", {"call_id": "call-1001"},
                       artifact="call-summary")  # the result becomes an artifact

* Tracing: each call is a CLIENT span ``tools/call SERVER/TOOL`` (to
  ``tracer_provider``, default the global one: pass the one given to
  :func:`accord.otel.instrument`), a child of the current span, i.e. of the
  execution's span when the agent is traced. The MCP SDK sends the current trace
  context in the request's ``_meta`` (W3C ``traceparent``, MCP SEP-414) to stdio and
  HTTP servers alike (and, with a global tracer provider, adds a span of its own).
* Audit: each call appends an :class:`~accord.stores.audit.AuditRecord` of kind
  ``"tool"`` (operation ``SERVER/TOOL``, the task and context, the trace id, the
  outcome: ``ok``, ``TOOL_ERROR``, ``TIMEOUT``, ``UNAVAILABLE`` or ``MCP_ERROR``,
  the sizes and the duration) to the engine's store when it audits (or to
  ``audit``). Arguments are recorded only with ``audit_arguments=True`` (in
  ``detail``, shortened): they may hold personal data.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import BlobResourceContents
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from accord._clock import now_timestamp
from accord.server import Interceptor
from accord.stores.audit import AuditRecord, AuditStore
from accord.types import Part

from ._pool import ClosedError, OpenError, SessionPool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

    from mcp_types import CallToolResult, Tool
    from opentelemetry.trace import TracerProvider

    from accord.server import Engine, ExecutionInfo, TaskContext

    from ._servers import McpServer

__all__ = [
    "DETAIL_LIMIT",
    "McpTools",
    "ToolBox",
    "ToolCallError",
    "mcp_tools",
    "result_parts",
]

logger = logging.getLogger(__name__)

#: Characters of an error message (or of the arguments) kept in an audit record.
DETAIL_LIMIT = 200

#: The tools and the execution of the agent running in this task (set by
#: :meth:`McpTools.executing`).
_current: ContextVar[tuple[McpTools, ExecutionInfo] | None] = ContextVar(
    "accord_mcp_execution", default=None
)


class ToolCallError(Exception):
    """A tool call did not give a result: the tool reported an error (``isError``),
    the server answered with an MCP error, did not answer in time, or could not be
    reached. ``outcome`` is the audit record's outcome; the message says which
    server and tool, never the arguments or credentials."""

    def __init__(self, message: str, *, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class McpTools(Interceptor):
    """The MCP servers an agent uses, pooled while the engine serves.

    Args:
        servers: the servers (:class:`~accord.mcp.StdioServer`,
            :class:`~accord.mcp.HttpServer`), by unique name.
        sessions: sessions open at once per server, at most.
        timeout: seconds each tool call may take.
        connect_timeout: seconds a call may wait for a free session, or for a new
            one to open (a stdio server's process to start).
        audit: where tool call records go (default: the engine's store, when it
            audits).
        audit_arguments: record each call's arguments (JSON, shortened).
        tracer_provider: where the tool calls' spans go (default: the global one).

    Raises:
        ValueError: two servers share a name, or a bound is not positive.
    """

    def __init__(
        self,
        servers: Sequence[McpServer],
        *,
        sessions: int = 4,
        timeout: float = 30.0,
        connect_timeout: float = 30.0,
        audit: AuditStore | None = None,
        audit_arguments: bool = False,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(
                f"timeout must be a positive number of seconds (got {timeout})"
            )
        names = [server.name for server in servers]
        if len(set(names)) != len(names):
            raise ValueError(f"MCP server names must be unique (got {names})")
        self.pools = {
            server.name: SessionPool(server, limit=sessions, timeout=connect_timeout)
            for server in servers
        }
        self.timeout = timeout
        self.audit = audit
        self.audit_arguments = audit_arguments
        self._store: AuditStore | None = audit
        self.tracer = trace.get_tracer("accord.mcp", tracer_provider=tracer_provider)

    def __repr__(self) -> str:
        return f"McpTools({', '.join(self.pools)})"

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        """Own the sessions while ``engine`` serves; close them all when it stops."""
        store = engine.store
        if self.audit is None and isinstance(store, AuditStore) and store.audit_states:
            self._store = store
        async with anyio.create_task_group() as group:
            for pool in self.pools.values():
                pool.open_in(group)
            try:
                yield
            finally:
                for pool in self.pools.values():
                    pool.open_in(None)
                group.cancel_scope.cancel()

    def executing(self, run: ExecutionInfo) -> Any:
        """Make this execution's :class:`ToolBox` current while the agent runs."""
        return self._current(run)

    @contextmanager
    def _current(self, run: ExecutionInfo) -> Iterator[None]:
        token = _current.set((self, run))
        try:
            yield
        finally:
            _current.reset(token)

    async def record(self, record: AuditRecord) -> None:
        """Append ``record`` when tool calls are audited (a failure is logged: the
        audit trail fails open, as the operations' does)."""
        if self._store is None:
            return
        try:
            await self._store.append_audit((record,))
        except Exception as exc:
            logger.warning("tool call audit record not written: %s", exc)


class ToolBox:
    """The MCP tools one execution of the agent can call (see :func:`mcp_tools`)."""

    def __init__(self, tools: McpTools, run: ExecutionInfo, ctx: TaskContext) -> None:
        self._tools = tools
        self._run = run
        self._ctx = ctx

    @property
    def servers(self) -> list[str]:
        """The names of the servers."""
        return list(self._tools.pools)

    def _pool(self, server: str) -> SessionPool:
        pool = self._tools.pools.get(server)
        if pool is None:
            raise ToolCallError(
                f"no MCP server named {server!r}; the agent declares: "
                f"{', '.join(self._tools.pools) or 'none'}",
                outcome="UNAVAILABLE",
            )
        return pool

    async def list_tools(self, server: str) -> list[Tool]:
        """The tools ``server`` offers.

        Raises:
            ToolCallError: the server could not be reached in time.
        """
        pool = self._pool(server)
        try:
            async with pool.session() as session:
                with anyio.fail_after(self._tools.timeout):
                    return (await session.list_tools()).tools
        except Exception as exc:
            raise _failure(server, "tools/list", exc) from None

    async def call(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        artifact: str | None = None,
        check: bool = True,
    ) -> CallToolResult:
        """Call ``tool`` of ``server``; return its result.

        With ``artifact``, the result also becomes an artifact of the task under
        that name (:func:`result_parts`), in the same call.

        Raises:
            ToolCallError: the call failed (see the class); with ``check`` (the
                default) also when the tool reports an error (``isError``),
                whose text is the message.
        """
        pool = self._pool(server)
        args = dict(arguments or {})
        with self._tools.tracer.start_as_current_span(
            f"tools/call {server}/{tool}",
            kind=SpanKind.CLIENT,
            attributes={
                "mcp.method.name": "tools/call",
                "mcp.server": server,
                "gen_ai.tool.name": tool,
                "a2a.task.id": self._run.task_id,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            result, error = await self._call(pool, server, tool, args, check)
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error.outcome))
        if error is not None:
            raise error
        assert result is not None
        if artifact is not None:
            await self._ctx.add_artifact(result_parts(result), name=artifact)
        return result

    async def _call(
        self,
        pool: SessionPool,
        server: str,
        tool: str,
        args: dict[str, Any],
        check: bool,
    ) -> tuple[CallToolResult | None, ToolCallError | None]:
        """Make the call, audit it; return its result or its error."""
        started = time.monotonic()
        result: CallToolResult | None = None
        error: ToolCallError | None = None
        try:
            async with pool.session() as session:
                with anyio.fail_after(self._tools.timeout):
                    result = await session.call_tool(tool, args)
        except Exception as exc:  # whatever the SDK raises: the call failed
            error = _failure(server, tool, exc)
        except anyio.get_cancelled_exc_class():
            error = ToolCallError(f"{server}/{tool}: canceled", outcome="CANCELED")
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._audit(server, tool, args, None, error, started)
            raise
        if result is not None and result.is_error and check:
            text = " ".join(b.text for b in result.content if b.type == "text")
            error = ToolCallError(
                f"the tool {server}/{tool} reported an error: {text or '(no text)'}",
                outcome="TOOL_ERROR",
            )
        await self._audit(server, tool, args, result, error, started)
        return result, error

    async def _audit(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any],
        result: CallToolResult | None,
        error: ToolCallError | None,
        started: float,
    ) -> None:
        run = self._run
        if error is not None:
            detail = str(error)[:DETAIL_LIMIT]
        elif self._tools.audit_arguments:
            detail = json.dumps(arguments, ensure_ascii=False)[:DETAIL_LIMIT]
        else:
            detail = ""
        span = trace.get_current_span().get_span_context()
        sent = json.dumps(arguments, ensure_ascii=False).encode()
        await self._tools.record(
            AuditRecord(
                time=now_timestamp(),
                tenant=run.request.tenant,
                kind="tool",
                operation=f"{server}/{tool}",
                task_id=run.task_id,
                context_id=run.context_id,
                trace_id=format(span.trace_id, "032x") if span.is_valid else "",
                outcome="ok" if error is None else error.outcome,
                detail=detail,
                request_bytes=len(sent),
                response_bytes=0
                if result is None
                else len(result.model_dump_json(by_alias=True).encode()),
                duration_us=int((time.monotonic() - started) * 1_000_000),
                peer=self._pool(server).server.where,
            )
        )


def _failure(server: str, tool: str, exc: BaseException) -> ToolCallError:
    if isinstance(exc, TimeoutError):
        return ToolCallError(
            f"{server}/{tool}: no answer from the MCP server in time", outcome="TIMEOUT"
        )
    if isinstance(exc, MCPError):
        return ToolCallError(
            f"{server}/{tool}: the MCP server answered: {exc.error.message}",
            outcome="MCP_ERROR",
        )
    if isinstance(exc, (ClosedError, OpenError)):
        return ToolCallError(f"{server}/{tool}: {exc}", outcome="UNAVAILABLE")
    logger.warning("MCP call %s/%s failed", server, tool, exc_info=exc)
    return ToolCallError(
        f"{server}/{tool}: the MCP server could not be reached ({type(exc).__name__})",
        outcome="UNAVAILABLE",
    )


def mcp_tools(ctx: TaskContext) -> ToolBox:
    """The MCP tools of the execution ``ctx`` belongs to.

    Raises:
        RuntimeError: the agent is not served with :class:`McpTools`, or this is
            called outside an execution of the agent.
    """
    current = _current.get()
    if current is None:
        raise RuntimeError(
            "no MCP tools here: serve the agent with "
            "A2AApp(agent, interceptors=[McpTools(servers)]) and call mcp_tools(ctx) "
            "inside its execution"
        )
    tools, run = current
    return ToolBox(tools, run, ctx)


def result_parts(result: CallToolResult) -> tuple[Part, ...]:
    """A tool result as A2A parts: text as text parts, structured content as one
    data part (its JSON text copy, which MCP servers add for text-only clients, is
    left out), images, audio and embedded files as file bytes, resource links as
    file URLs."""
    structured = result.structured_content
    parts: list[Part] = []
    for block in result.content:
        if block.type == "text":
            if structured is not None and _same_json(block.text, structured):
                continue
            parts.append(Part(text=block.text))
        elif block.type in ("image", "audio"):
            parts.append(
                Part(raw=base64.b64decode(block.data), media_type=block.mime_type)
            )
        elif block.type == "resource":
            contents = block.resource
            name = contents.uri.rsplit("/", 1)[-1]
            media = contents.mime_type or ""
            if isinstance(contents, BlobResourceContents):
                parts.append(
                    Part(
                        raw=base64.b64decode(contents.blob),
                        filename=name,
                        media_type=media,
                    )
                )
            else:
                parts.append(Part(text=contents.text, media_type=media))
        elif block.type == "resource_link":
            parts.append(
                Part(
                    url=block.uri, filename=block.name, media_type=block.mime_type or ""
                )
            )
    if structured is not None:
        parts.append(Part(data=structured, media_type="application/json"))
    if not parts:
        parts.append(Part(text=""))
    return tuple(parts)


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False

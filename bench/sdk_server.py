"""The benchmark's a2a-sdk server: the same echo agent on the SDK's JSON-RPC Starlette routes.

Built the way the SDK documents it: an ``AgentExecutor`` publishing on the
``EventQueue`` through a ``TaskUpdater``, ``DefaultRequestHandler`` (v2), the routes of
``create_jsonrpc_routes`` (JSON-RPC at ``POST /``) and ``create_agent_card_routes`` in a
Starlette app. Stores: ``InMemoryTaskStore``, or ``DatabaseTaskStore`` on a SQLite file
through SQLAlchemy + aiosqlite (the ``a2a-sdk[sqlite]`` extra), both as the SDK sets
them up by default. ``--store retention`` is accepted and means the in-memory store:
the SDK has no retention.

``--store postgres --db postgresql://...`` is the SDK's cluster mode, for
``bench/cluster.py``: ``VersionedDatabaseTaskStore`` (tasks, a version row per task and
an append-only ``task_events`` log) and ``DatabaseTaskEventStream`` (a replica that does
not run a task tails that log, polling every 0.5 s, its default) on one SQLAlchemy
``AsyncEngine`` over asyncpg (the ``a2a-sdk[postgresql]`` extra), with the engine's
default pool, passed to ``DefaultRequestHandler`` as ``task_store`` and
``event_stream``.

Run: ``python bench/sdk_server.py --port 8102 [--store memory|sqlite|postgres]``.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPLY_PREFIX,
    serve,
    server_args,
    stream_chunks,
    tick_gap,
    tick_plan,
    tick_text,
    wait_gate,
)
from a2a.helpers import new_task_from_user_message, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
)
from starlette.applications import Starlette

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from a2a.server.events import EventQueue


class EchoExecutor(AgentExecutor):
    """Echo: publish the task, one text artifact, complete (or reply / stream)."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        assert message is not None
        text = context.get_user_input()
        if text.startswith(REPLY_PREFIX):
            await event_queue.enqueue_event(
                new_text_message(text, context_id=context.context_id)
            )
            return
        task = context.current_task or new_task_from_user_message(message)
        await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        chunks = stream_chunks(text)
        tick = tick_plan(text)
        if tick is not None:
            count, gate = tick
            await updater.start_work()
            await wait_gate(gate)
            for i in range(count):
                await updater.add_artifact(
                    [new_text_part(tick_text(i))], name=f"tick-{i}"
                )
                await asyncio.sleep(tick_gap(i))
        elif chunks is not None:
            artifact_id = "stream"
            await updater.add_artifact(
                [new_text_part("chunk 0")], artifact_id=artifact_id, name="stream"
            )
            for i in range(1, chunks):
                await updater.add_artifact(
                    [new_text_part(f"chunk {i}")],
                    artifact_id=artifact_id,
                    append=True,
                    last_chunk=i == chunks - 1,
                )
        else:
            await updater.add_artifact([new_text_part(text)], name="echo")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


def make_card(port: int) -> AgentCard:
    """The agent card (same content as the Accord side's)."""
    return AgentCard(
        name="Echo",
        description="Repeats what you say (benchmark agent)",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(
                url=f"http://127.0.0.1:{port}/",
                protocol_binding="JSONRPC",
                protocol_version="1.0",
            )
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain", "application/json"],
        default_output_modes=["text/plain", "application/json"],
        skills=[
            AgentSkill(
                id="echo", name="Echo", description="Echoes text", tags=["bench"]
            )
        ],
    )


def asyncpg_url(db: str) -> tuple[str, dict[str, str]]:
    """SQLAlchemy's asyncpg URL for ``db``, and the ``options=-cNAME=VALUE`` settings
    of its query (libpq's spelling, which asyncpg does not take) as server settings."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(db)
    query, settings = [], {}
    for key, value in parse_qsl(parts.query):
        if key != "options":
            query.append((key, value))
            continue
        for option in value.split():
            name, _, setting = option.removeprefix("-c").partition("=")
            settings[name] = setting
    url = urlunsplit(
        ("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), "")
    )
    return url, settings


def make_app(port: int, store_kind: str, db: str) -> Starlette:
    """The Starlette app serving the SDK echo agent."""
    engine: Any = None
    store: Any
    stream: Any = None
    if store_kind == "postgres":
        from a2a.server.cluster import (
            DatabaseTaskEventStream,
            VersionedDatabaseTaskStore,
        )
        from sqlalchemy.ext.asyncio import create_async_engine

        url, settings = asyncpg_url(db)
        engine = create_async_engine(
            url, connect_args={"server_settings": settings} if settings else {}
        )
        store = VersionedDatabaseTaskStore(engine)
        stream = DatabaseTaskEventStream(engine)
    elif store_kind == "sqlite":
        from a2a.server.tasks import DatabaseTaskStore
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
        store = DatabaseTaskStore(engine)
    else:
        store = InMemoryTaskStore()
    card = make_card(port)
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(),
        task_store=store,
        agent_card=card,
        event_stream=stream,
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if engine is not None:
            await store.initialize()
        if stream is not None:
            await stream.initialize()
        try:
            yield
        finally:
            await handler.aclose()
            if engine is not None:
                await engine.dispose()

    routes = [*create_jsonrpc_routes(handler, "/"), *create_agent_card_routes(card)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    args = server_args(__doc__ or "")
    serve(make_app(args.port, args.store, args.db), args)


if __name__ == "__main__":
    main()

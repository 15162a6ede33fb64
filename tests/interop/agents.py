"""One test agent, written twice: on Accord's server and on the official SDK's server.

Both do the same thing for the same text (the first word picks the behaviour):

=============  ========================================================================
``echo ...``   WORKING, then an artifact ``echo`` holding the incoming message's parts
               (text, data, raw bytes, URL, with their metadata), then COMPLETED
``reply ...``  a Message only, no task: ``you said: ...`` (spec §3.1.1)
``ask``        INPUT_REQUIRED ("Which day?"); the follow-up message on the same task
               gets an artifact ``booking`` (``booked: <answer>``) and COMPLETED
``wait K``     WORKING, then waits until the test opens gate ``K`` (a cancellable,
               long-running task), then an artifact and COMPLETED
``chunks``     one artifact in three chunks (``append``; ``lastChunk`` on the third),
               then COMPLETED
=============  ========================================================================

The SDK side is an ``AgentExecutor`` publishing ``Task`` / ``TaskStatusUpdateEvent`` /
``TaskArtifactUpdateEvent`` through its ``EventQueue`` (``TaskUpdater``) behind its
``DefaultRequestHandler`` with an ``InMemoryTaskStore``, mounted with its own Starlette
route factories (agent card, JSON-RPC, REST). The SDK is read for facts only; nothing
here is copied from it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import (
    BasePushNotificationSender,
    InMemoryPushNotificationConfigStore,
    InMemoryTaskStore,
    TaskUpdater,
)
from a2a.types import a2a_pb2 as pb
from starlette.applications import Starlette

from accord.server import A2AApp, Agent, TaskContext
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    APIKeySecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

__all__ = [
    "ACCEPTED_MODES",
    "API_KEY_HEADER",
    "SDK_JSONRPC_PATH",
    "SdkServer",
    "accord_app",
    "gate",
]

#: Media types both agents accept (the echo test sends all of them).
ACCEPTED_MODES = ("text/plain", "application/json", "application/octet-stream")
#: Where the SDK server mounts its JSON-RPC endpoint (Accord's is at ``/``).
SDK_JSONRPC_PATH = "/jsonrpc"
#: Header of the API key the secured Accord server declares on its card.
API_KEY_HEADER = "X-API-Key"

_GATES: dict[str, threading.Event] = {}
_GATES_LOCK = threading.Lock()


def gate(name: str) -> threading.Event:
    """The gate a ``wait <name>`` task waits for (shared by the test and the server)."""
    with _GATES_LOCK:
        return _GATES.setdefault(name, threading.Event())


# --- Accord ---------------------------------------------------------------------------


async def accord_behaviour(ctx: TaskContext) -> None:
    """The test agent on Accord's progress API."""
    command, _, rest = ctx.text.partition(" ")
    if ctx.is_follow_up:  # only ``ask`` tasks wait for input
        await ctx.add_artifact(f"booked: {ctx.text}", name="booking")
        await ctx.complete()
    elif command == "reply":
        await ctx.reply(f"you said: {rest}")
    elif command == "ask":
        await ctx.ask_for_input("Which day?")
    elif command == "wait":
        await ctx.working(f"waiting for {rest}")
        opened = gate(rest)
        # The test thread sets the gate: a threading.Event, so poll it.
        while not opened.is_set():  # noqa: ASYNC110
            await anyio.sleep(0.01)
        await ctx.add_artifact("gate opened", name="result")
        await ctx.complete()
    elif command == "chunks":
        await ctx.working()
        artifact_id = await ctx.add_artifact("one ", name="chunked")
        await ctx.append_artifact(artifact_id, "two ")
        await ctx.append_artifact(artifact_id, "three", last_chunk=True)
        await ctx.complete()
    else:
        await ctx.working("thinking")
        await ctx.add_artifact(
            list(ctx.message.parts),
            name="echo",
            description="what you sent",
            metadata={"count": len(ctx.message.parts), "nested": {"ok": True}},
        )
        await ctx.complete("done")


def accord_app(api_key: str | None = None) -> A2AApp:
    """Accord's server app with the test agent (in-memory store).

    With ``api_key`` the card declares an API-key scheme (header
    :data:`API_KEY_HEADER`) that every operation requires; without it the agent is
    anonymous, but the extended card still needs an authenticated caller (§13.3).
    """
    extended = AgentCard(
        name="Accord interop agent (extended)",
        description="The extended card",
        supported_interfaces=(
            AgentInterface(
                url="http://extended.invalid/",
                protocol_binding="JSONRPC",
                protocol_version="1.0",
            ),
        ),
        version="1.0.0",
        capabilities=AgentCapabilities(streaming=True, extended_agent_card=True),
        default_input_modes=ACCEPTED_MODES,
        default_output_modes=("text/plain",),
        skills=(
            AgentSkill(
                id="secret", name="Secret", description="extended only", tags=("x",)
            ),
        ),
    )
    agent = Agent(
        accord_behaviour,
        name="Accord interop agent",
        description="echo, reply, ask, wait, chunks",
        skills=[
            AgentSkill(
                id="echo", name="Echo", description="echoes parts", tags=("demo",)
            )
        ],
        default_input_modes=ACCEPTED_MODES,
        default_output_modes=("text/plain", "application/json"),
        extended_card=extended,
        security_schemes=None
        if api_key is None
        else {
            "apiKey": SecurityScheme(
                api_key_security_scheme=APIKeySecurityScheme(
                    description="a partner key", location="header", name=API_KEY_HEADER
                )
            )
        },
        security_requirements=()
        if api_key is None
        else (SecurityRequirement(schemes={"apiKey": StringList()}),),
    )
    if api_key is None:
        return A2AApp(agent)
    keys = ApiKeyRing()
    keys.add(api_key, principal="sdk-client")
    return A2AApp(agent, auth={"apiKey": ApiKeyVerifier(keys)})


# --- the official SDK -------------------------------------------------------------------


def _agent_message(parts: list[pb.Part], context: RequestContext) -> pb.Message:
    return pb.Message(
        message_id=str(uuid.uuid4()),
        role=pb.ROLE_AGENT,
        parts=parts,
        context_id=context.context_id or "",
        task_id=context.task_id or "",
    )


class SdkAgent(AgentExecutor):
    """The test agent on the SDK's executor API."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        assert context.task_id is not None
        assert context.context_id is not None
        text = context.get_user_input()
        command, _, rest = text.partition(" ")
        existing = context.current_task
        if existing is None and command == "reply":
            reply = _agent_message([pb.Part(text=f"you said: {rest}")], context)
            reply.ClearField("task_id")  # a message-only answer has no task
            await event_queue.enqueue_event(reply)
            return
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        if existing is not None:  # the follow-up of an ``ask`` task
            await updater.add_artifact(
                [pb.Part(text=f"booked: {text}")], name="booking"
            )
            await updater.complete()
            return
        await event_queue.enqueue_event(
            pb.Task(
                id=context.task_id,
                context_id=context.context_id,
                status=pb.TaskStatus(state=pb.TASK_STATE_SUBMITTED),
                history=[context.message],
            )
        )
        if command == "ask":
            await updater.requires_input(
                _agent_message([pb.Part(text="Which day?")], context)
            )
        elif command == "wait":
            await updater.start_work(
                _agent_message([pb.Part(text=f"waiting for {rest}")], context)
            )
            opened = gate(rest)
            # The test thread sets the gate: a threading.Event, so poll it.
            while not opened.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await updater.add_artifact([pb.Part(text="gate opened")], name="result")
            await updater.complete()
        elif command == "chunks":
            await updater.start_work()
            artifact_id = str(uuid.uuid4())
            for text_chunk, append, last in (
                ("one ", False, False),
                ("two ", True, False),
                ("three", True, True),
            ):
                await updater.add_artifact(
                    [pb.Part(text=text_chunk)],
                    artifact_id=artifact_id,
                    name="chunked",
                    append=append or None,
                    last_chunk=last or None,
                )
            await updater.complete()
        else:
            await updater.start_work(
                _agent_message([pb.Part(text="thinking")], context)
            )
            await updater.add_artifact(
                list(context.message.parts),
                name="echo",
                metadata={
                    "count": len(context.message.parts),
                    "nested": {"ok": True},
                },
            )
            await updater.complete(_agent_message([pb.Part(text="done")], context))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.task_id is not None
        updater = TaskUpdater(event_queue, context.task_id, context.context_id or "")
        await updater.cancel()


class SdkServer:
    """The SDK's server app and the card objects whose URLs are filled in at start."""

    def __init__(self, webhook_http: httpx.AsyncClient | None = None) -> None:
        # The URLs are filled in by set_base_url once the port is known.
        interfaces = [
            pb.AgentInterface(
                url="http://unset.invalid/jsonrpc",
                protocol_binding="JSONRPC",
                protocol_version="1.0",
            ),
            pb.AgentInterface(
                url="http://unset.invalid",
                protocol_binding="HTTP+JSON",
                protocol_version="1.0",
            ),
        ]
        self.card = pb.AgentCard(
            name="SDK interop agent",
            description="echo, reply, ask, wait, chunks",
            version="1.0.0",
            supported_interfaces=interfaces,
            capabilities=pb.AgentCapabilities(
                streaming=True, push_notifications=True, extended_agent_card=True
            ),
            default_input_modes=list(ACCEPTED_MODES),
            default_output_modes=["text/plain", "application/json"],
            skills=[
                pb.AgentSkill(
                    id="echo", name="Echo", description="echoes parts", tags=["demo"]
                )
            ],
        )
        self.extended_card = pb.AgentCard()
        self.extended_card.CopyFrom(self.card)
        self.extended_card.name = "SDK interop agent (extended)"
        self.extended_card.skills.add(
            id="secret", name="Secret", description="extended only", tags=["x"]
        )
        self._webhook_http = webhook_http or httpx.AsyncClient()
        push_store = InMemoryPushNotificationConfigStore()
        self.handler = DefaultRequestHandler(
            agent_executor=SdkAgent(),
            task_store=InMemoryTaskStore(),
            agent_card=self.card,
            push_config_store=push_store,
            push_sender=BasePushNotificationSender(self._webhook_http, push_store),
            extended_agent_card=self.extended_card,
        )

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            yield
            await self.handler.aclose()
            await self._webhook_http.aclose()

        self.app = Starlette(
            routes=[
                *create_agent_card_routes(self.card),
                *create_jsonrpc_routes(self.handler, SDK_JSONRPC_PATH),
                *create_rest_routes(self.handler),
            ],
            lifespan=lifespan,
        )

    def set_base_url(self, base: str) -> None:
        """Point the cards' interfaces at where the server listens."""
        for card in (self.card, self.extended_card):
            card.supported_interfaces[0].url = base + SDK_JSONRPC_PATH
            card.supported_interfaces[1].url = base

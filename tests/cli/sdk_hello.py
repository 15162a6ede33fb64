"""The official SDK's hello-world agent, as its sample builds it, for the CLI tests.

Its card declares its interfaces as the SDK's samples do,
``AgentInterface(url=…, protocol_binding=…)``: without ``protocolVersion``. The
server is the SDK's own (``DefaultRequestHandler`` + ``InMemoryTaskStore``, card,
JSON-RPC and REST routes); the executor answers every message with "Hello World".
The SDK is a peer we test against: this builds its objects, it copies none of its code.
"""

from __future__ import annotations

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import a2a_pb2 as pb
from starlette.applications import Starlette

__all__ = ["JSONRPC_PATH", "HelloWorld"]

JSONRPC_PATH = "/jsonrpc"


class _Executor(AgentExecutor):
    """Answers every message with a "Hello World" message (no task)."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await event_queue.enqueue_event(
            pb.Message(
                message_id="hello",
                role=pb.Role.ROLE_AGENT,
                parts=[pb.Part(text="Hello World")],
                context_id=context.context_id or "",
            )
        )

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


class HelloWorld:
    """The app, and its card whose URLs :meth:`set_base_url` fills in."""

    def __init__(self) -> None:
        self.card = pb.AgentCard(
            name="Hello World Agent",
            description="Just a hello world agent",
            version="1.0.0",
            supported_interfaces=[
                pb.AgentInterface(
                    url="http://unset.invalid", protocol_binding="JSONRPC"
                ),
                pb.AgentInterface(
                    url="http://unset.invalid", protocol_binding="HTTP+JSON"
                ),
            ],
            capabilities=pb.AgentCapabilities(streaming=True),
            default_input_modes=["text"],
            default_output_modes=["text"],
            skills=[
                pb.AgentSkill(
                    id="hello_world",
                    name="Returns hello world",
                    description="just returns hello world",
                    tags=["hello world"],
                    examples=["hi", "hello world"],
                )
            ],
        )
        handler = DefaultRequestHandler(
            agent_executor=_Executor(),
            task_store=InMemoryTaskStore(),
            agent_card=self.card,
        )
        self.app = Starlette(
            routes=[
                *create_agent_card_routes(self.card),
                *create_jsonrpc_routes(handler, JSONRPC_PATH),
                *create_rest_routes(handler),
            ]
        )

    def set_base_url(self, base: str) -> None:
        """Point the interfaces at where the server listens."""
        self.card.supported_interfaces[0].url = base + JSONRPC_PATH
        self.card.supported_interfaces[1].url = base

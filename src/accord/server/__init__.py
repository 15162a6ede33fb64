"""The A2A server: declare an :class:`Agent`, write one coroutine, serve an :class:`A2AApp`."""

from __future__ import annotations

from .agent import Agent, AgentFunction, Content, TaskContext
from .asgi import A2AApp, ServerLimits
from .broker import Broker
from .card import build_card
from .handler import CallContext, EventStream, RequestHandler
from .runtime import Runtime

__all__ = [
    "A2AApp",
    "Agent",
    "AgentFunction",
    "Broker",
    "CallContext",
    "Content",
    "EventStream",
    "RequestHandler",
    "Runtime",
    "ServerLimits",
    "TaskContext",
    "build_card",
]

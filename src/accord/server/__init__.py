"""The A2A server: declare an :class:`Agent`, write one coroutine, serve an :class:`A2AApp`."""

from __future__ import annotations

from .agent import Agent, AgentFunction, Content, TaskContext
from .asgi import A2AApp, ServerLimits
from .broker import Broker
from .card import build_card
from .context import CallContext
from .cors import CorsPolicy
from .handler import RequestHandler
from .limits import ConnectionLimits
from .runtime import Runtime
from .streams import EventStream

__all__ = [
    "A2AApp",
    "Agent",
    "AgentFunction",
    "Broker",
    "CallContext",
    "ConnectionLimits",
    "Content",
    "CorsPolicy",
    "EventStream",
    "RequestHandler",
    "Runtime",
    "ServerLimits",
    "TaskContext",
    "build_card",
]

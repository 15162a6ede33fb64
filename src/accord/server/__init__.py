"""The A2A server: declare an :class:`Agent`, write one coroutine, serve an :class:`A2AApp`.

What an agent author uses:

* :class:`Agent`: the agent's identity, skills and capabilities (its card), and the
  coroutine (:data:`AgentFunction`) that runs each task;
* :class:`TaskContext`: what that coroutine receives: the message, the task, and the
  progress API (``working``, ``add_artifact``, ``complete``…) taking :data:`Content`;
* :class:`A2AApp`: the ASGI application serving the agent, tuned with
  :class:`ServerLimits`; authentication is configured with :mod:`accord.server.auth`
  and tasks are kept in an :mod:`accord.stores` store;
* :class:`Engine`: what an A2AApp runs on (store, task events, executions, handler,
  authentication, :class:`Interceptor` s); build one to share it between front ends;
* :class:`Interceptor`: sees every operation (:class:`CallInfo`) and its
  :class:`Outcome`, to refuse, audit or trace it; :class:`Quotas` (rules:
  :class:`QuotaRule`, :class:`RateLimit`) and :class:`RateLimiter` limit callers;
  :class:`AuditInterceptor` records each in the audit trail (an engine adds it when
  its store audits);
* :func:`build_card`: the public card an agent serves at a base URL.

The machinery underneath stays importable from its modules for advanced use (custom
transports, embedding): :class:`~accord.server.handler.RequestHandler`,
:class:`~accord.server.runtime.Runtime`,
:class:`~accord.server.events.LocalTaskEvents` (and the
:class:`~accord.server.events.TaskEvents` interface),
:class:`~accord.server.context.CallContext` and
:class:`~accord.server.streams.HandlerStream`.
"""

from __future__ import annotations

from .agent import Agent, AgentFunction, Content, TaskContext
from .asgi import A2AApp
from .audit import AuditInterceptor
from .card import build_card
from .cors import CorsPolicy
from .engine import Engine
from .interceptors import CallInfo, ExecutionInfo, Interceptor, Outcome
from .limits import ConnectionLimits, ServerLimits
from .push import PushSettings
from .quotas import QuotaRule, Quotas, RateLimit, RateLimiter

__all__ = [
    "A2AApp",
    "Agent",
    "AgentFunction",
    "AuditInterceptor",
    "CallInfo",
    "ConnectionLimits",
    "Content",
    "CorsPolicy",
    "Engine",
    "ExecutionInfo",
    "Interceptor",
    "Outcome",
    "PushSettings",
    "QuotaRule",
    "Quotas",
    "RateLimit",
    "RateLimiter",
    "ServerLimits",
    "TaskContext",
    "build_card",
]

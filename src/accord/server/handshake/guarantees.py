"""Guarantees and pricing on the server: declared in the card, observed, published.

:class:`GuaranteeMonitor` declares the agent's
:class:`~accord.protocol.handshake.Guarantees` (latency percentiles and prices per
skill, data residency, compliance tags) under
:data:`~accord.protocol.handshake.GUARANTEES_EXTENSION`, with the default rate
limits of the engine's :class:`~accord.server.Quotas` copied in (``rateLimits``).

It also measures: each SendMessage or SendStreamingMessage that names a declared
skill and succeeds adds its duration (from the request to the answer: for a blocking
call, the task's end or interruption; for a stream, its end) to that skill's
:class:`~accord.protocol.handshake.LatencyHistogram`. Calls with
``returnImmediately`` measure nothing of the work and are left out. Observations
cover the last one to two ``window`` s (two generations, rotated). The observed
figures are published beside the declared ones (``observed``) once a skill has
``min_count`` of them; the card is rebuilt at most every ``refresh`` seconds when
they changed (:meth:`~accord.server.Engine.redeclare`), so a fetched card is at most
that, plus its ``max-age``, old.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from accord.protocol.handshake import (
    GUARANTEES_EXTENSION,
    Guarantees,
    LatencyHistogram,
    Observed,
    skill_named,
)
from accord.types import AgentExtension

from ..interceptors import CallInfo, Interceptor, Outcome
from ..quotas import QUOTA_EXTENSION
from .skills import MESSAGE_OPERATIONS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from ..engine import Engine

__all__ = ["DEFAULT_WINDOW", "MIN_COUNT", "REFRESH", "GuaranteeMonitor"]

#: Seconds one generation of observations covers.
DEFAULT_WINDOW = 3600.0
#: Observations a skill needs before its figures are published.
MIN_COUNT = 20
#: Seconds between two rebuilds of the card's observed figures (at most).
REFRESH = 30.0


class GuaranteeMonitor(Interceptor):
    """Declares guarantees and publishes the latency observed (see the module).

    Args:
        guarantees: what the agent promises.
        window: seconds per generation of observations.
        min_count: observations a skill needs before its figures are published.
        refresh: seconds between card rebuilds when figures changed.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        guarantees: Guarantees,
        *,
        window: float = DEFAULT_WINDOW,
        min_count: int = MIN_COUNT,
        refresh: float = REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not window > 0 or not refresh > 0 or min_count < 1:
            raise ValueError("window and refresh are > 0 seconds, min_count >= 1")
        self.guarantees = guarantees
        self.window = window
        self.min_count = min_count
        self.refresh = refresh
        self._clock = clock
        self._skills = frozenset(s.skill for s in guarantees.skills)
        self._current: dict[str, LatencyHistogram] = {}
        self._previous: dict[str, LatencyHistogram] = {}
        self._started = clock()
        self._changed = False
        self._engine: Engine | None = None

    def record(self, skill: str, seconds: float) -> None:
        """Count one call of ``skill`` that took ``seconds`` (declared skills only)."""
        if skill not in self._skills:
            return
        self._rotate()
        self._current.setdefault(skill, LatencyHistogram()).record(seconds)
        self._changed = True

    def observed(self) -> dict[str, Observed]:
        """The figures per skill with at least ``min_count`` observations."""
        self._rotate()
        figures: dict[str, Observed] = {}
        for skill in self._skills:
            current = self._current.get(skill, LatencyHistogram())
            merged = current.merged(self._previous.get(skill, LatencyHistogram()))
            if merged.count >= self.min_count:
                figures[skill] = merged.observed(self.window)
        return figures

    def _rotate(self) -> None:
        now = self._clock()
        elapsed = now - self._started
        if elapsed < self.window:
            return
        self._previous = self._current if elapsed < 2 * self.window else {}
        self._current = {}
        self._started = now
        self._changed = True

    def card_extensions(self) -> tuple[AgentExtension, ...]:
        return (
            AgentExtension(
                uri=GUARANTEES_EXTENSION,
                description=(
                    "Declared latency (p50/p99 ms) and price per skill, data "
                    "residency and compliance tags; observed latency beside them."
                ),
                params=self.guarantees.to_params(self.observed(), self._rate_limits()),
            ),
        )

    def _rate_limits(self) -> list[Any]:
        engine = self._engine
        if engine is None:
            return []
        limits: list[Any] = []
        for interceptor in engine.interceptors:
            if interceptor is self:
                continue
            for extension in interceptor.card_extensions():
                if extension.uri == QUOTA_EXTENSION and extension.params:
                    limits.extend(extension.params.get("limits", []))
        return limits

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        self._engine = engine
        engine.redeclare()  # the rate limits of the engine's quotas
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._publish, engine)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._engine = None

    async def _publish(self, engine: Engine) -> None:
        while True:
            await anyio.sleep(self.refresh)
            if self._changed:
                self._changed = False
                engine.redeclare()

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        if call.operation.name not in MESSAGE_OPERATIONS or not outcome.ok:
            return
        if not outcome.finished:
            return  # the client left a stream: its duration says nothing
        configuration = call.request.configuration
        if configuration is not None and configuration.return_immediately:
            return
        skill = skill_named(call.request.message)
        if skill is not None:
            self.record(skill, outcome.duration)

"""The quota interceptor: :class:`Quotas` (and :class:`RateLimiter`, its one-rule form).

Spec §13 asks agents to rate-limit every operation and to answer with an appropriate
error when a limit is exceeded. :class:`Quotas` is an
:class:`~accord.server.Interceptor`: it sees every operation of every binding once the
caller is authenticated, and refuses one over a limit with
:class:`~accord.errors.RateLimitedError` (HTTP 429 with ``Retry-After``, JSON-RPC
``-31429``, gRPC ``RESOURCE_EXHAUSTED``; reason ``RATE_LIMITED`` with
``retryAfterSeconds`` in the ErrorInfo metadata).

For each call it takes the rules that apply (:func:`~accord.server.quotas.applicable`)
and then, in this order, so that nothing is spent for a refused call:

1. a message (SendMessage, SendStreamingMessage) holds a place under each running
   limit in the backend, all or nothing, kept until the task it starts stops running
   (the runtime's :class:`~accord.server.running.Slot`);
2. every operation spends a token of each rate bucket, all or nothing, in the
   backend (:class:`~accord.server.quotas.MemoryBuckets` in this process, or
   :class:`~accord.server.quotas.redis.RedisBuckets` shared by instances).

When the backend cannot be asked, ``on_backend_error`` decides: ``"open"`` admits the
call, ``"closed"`` refuses it with 503 (``UnavailableError``); either way the failure
is logged, once and then at most every :data:`LOG_EVERY` seconds, and the recovery too.

The public card declares the default rules (those naming no tenant and no principal)
as the extension :data:`QUOTA_EXTENSION`, so callers can plan their pace.
"""

from __future__ import annotations

import logging
import math
import time
import tomllib
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from accord.errors import RateLimitedError, UnavailableError
from accord.protocol.handshake import skill_named
from accord.types import AgentExtension

from ..interceptors import Interceptor
from .buckets import (
    Bucket,
    MemoryBuckets,
    QuotaBackend,
    QuotaBackendError,
    Refusal,
    RunningLimit,
)
from .rules import QuotaRule, applicable, rules_from_mapping

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from ..engine import Engine
    from ..interceptors import CallInfo, Outcome
    from ..running import RunningCounts, Slot
    from .rules import RateLimit

__all__ = [
    "LOG_EVERY",
    "QUOTA_EXTENSION",
    "Quotas",
    "RateLimiter",
    "skill_of",
]

logger = logging.getLogger("accord.server.quotas")

#: The card extension that declares the default limits (an Accord extension, spec §4.6).
QUOTA_EXTENSION = "urn:accord:a2a:quotas:v1"
#: Seconds between two log lines about the same backend failing.
LOG_EVERY = 30.0
_FILE_KEYS = frozenset({"backend", "key_prefix", "on_backend_error", "limit"})
#: The operations that run the agent, and so count against running limits.
_MESSAGES = frozenset({"SendMessage", "SendStreamingMessage"})

OnBackendError = Literal["open", "closed"]


def skill_of(call: CallInfo) -> str | None:
    """The skill a message asks for: its metadata's ``skill``, or the ``skill`` of its
    first data part that has one; None when it does not say (or is not a message).

    A2A messages carry no skill field (the agent decides how to serve a message), so
    per-skill limits rely on the caller naming it the way the agent reads it; give
    :class:`Quotas` your own ``skill_of`` when your agent reads it elsewhere.
    """
    message = getattr(call.request, "message", None)
    return None if message is None else skill_named(message)


class Quotas(Interceptor):
    """Rate and running-task limits per caller, tenant and skill (see the module).

    Args:
        rules: the limits (:class:`~accord.server.quotas.QuotaRule`).
        backend: where the rate buckets live (default: this process).
        on_backend_error: ``"open"`` (admit) or ``"closed"`` (503) when the backend
            cannot be asked.
        skill_of: the skill a call asks for (default: :func:`skill_of`).
        running_retry_after: the ``Retry-After`` (seconds) of a refusal for running
            tasks (when one ends is not known in advance).

    Raises:
        ValueError: no rules, or an unknown ``on_backend_error``.
    """

    def __init__(
        self,
        rules: Iterable[QuotaRule],
        *,
        backend: QuotaBackend | None = None,
        on_backend_error: OnBackendError = "open",
        skill_of: Callable[[CallInfo], str | None] = skill_of,
        running_retry_after: float = 1.0,
    ) -> None:
        self.rules = tuple(rules)
        if not self.rules:
            raise ValueError("Quotas needs at least one QuotaRule")
        if on_backend_error not in ("open", "closed"):
            raise ValueError(
                f"on_backend_error is 'open' or 'closed' (got {on_backend_error!r})"
            )
        self.backend: QuotaBackend = backend if backend is not None else MemoryBuckets()
        self.on_backend_error = on_backend_error
        self.running_retry_after = running_retry_after
        self._skill_of = skill_of
        self._skills = any(rule.skill is not None for rule in self.rules)
        self._runs_limited = any(rule.running is not None for rule in self.rules)
        self._running: RunningCounts | None = None
        self._reserved: dict[CallInfo, Slot] = {}
        self._failing_since: float | None = None
        self._logged_at = 0.0

    @classmethod
    def from_file(cls, path: str | Path) -> Quotas:
        """Quotas from a TOML file (the format is in ``docs/how-to/quotas.md``)::

            backend = "redis://127.0.0.1:6379/0"   # optional: default in process
            key_prefix = "accord:quota:"           # Redis keys (agents sharing one)
            on_backend_error = "open"              # or "closed"

            [[limit]]
            rate = "5/s:10"
            running = 4

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not TOML, or a key or value is wrong; the message names
                the file and the place.
        """
        where = str(path)
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{where}: not TOML: {exc}") from None
        unknown = sorted(set(data) - _FILE_KEYS)
        if unknown:
            raise ValueError(
                f"{where}: unknown key {unknown[0]!r} (known: backend, key_prefix, "
                "on_backend_error, [[limit]])"
            )
        rules = rules_from_mapping(data, where=where)
        if not rules:
            raise ValueError(f"{where}: no [[limit]] table: nothing to limit")
        backend_url = data.get("backend", "memory")
        if not isinstance(backend_url, str):
            raise ValueError(
                f"{where}: backend is a string: 'memory' or a redis:// URL"
            )
        prefix = data.get("key_prefix")
        if prefix is not None and not (isinstance(prefix, str) and prefix):
            raise ValueError(f"{where}: key_prefix is a non-empty string")
        on_error = data.get("on_backend_error", "open")
        if on_error not in ("open", "closed"):
            raise ValueError(f"{where}: on_backend_error is 'open' or 'closed'")
        try:
            backend = backend_for(backend_url, prefix=prefix)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return cls(rules, backend=backend, on_backend_error=on_error)

    def card_extensions(self) -> tuple[AgentExtension, ...]:
        public = [rule for rule in self.rules if rule.public]
        if not public:
            return ()
        return (
            AgentExtension(
                uri=QUOTA_EXTENSION,
                description=(
                    "Default limits per caller (per=principal) or per tenant "
                    "(per=tenant): requestsPerSecond with a burst, and runningTasks. "
                    "Beyond them: HTTP 429 with Retry-After, "
                    "JSON-RPC -31429, gRPC RESOURCE_EXHAUSTED."
                ),
                params={"limits": [_declared(rule) for rule in public]},
            ),
        )

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        if self._running is not None:
            raise RuntimeError("these Quotas already serve an engine: make one each")
        self._running = engine.running_tasks
        if self._runs_limited:
            self._running.active = True
        try:
            async with self.backend:
                yield
        finally:
            self._running = None

    async def before(self, call: CallInfo) -> None:
        principal = call.principal
        who = "" if principal is None else principal.id
        tenant = call.tenant
        message = call.operation.name in _MESSAGES
        skill = self._skill_of(call) if message and self._skills else None
        rules = applicable(self.rules, tenant, who, skill)
        slot = None
        if message and self._runs_limited:
            slot = await self._hold(call, rules, tenant, who)
        buckets = [
            Bucket(_parts(rule, tenant, who), rule.rate)
            for rule in rules
            if rule.rate is not None
        ]
        if not buckets:
            return
        try:
            refusal = await self._take(buckets)
        except BaseException:
            if slot is not None:
                self._reserved.pop(call, None)
                slot.release()
            raise
        if refusal is not None:
            if slot is not None:
                self._reserved.pop(call, None)
                slot.release()
            raise _too_many(buckets[refusal.index], refusal.wait)

    async def after(self, call: CallInfo, outcome: Outcome) -> None:
        slot = self._reserved.pop(call, None)
        if slot is not None:
            slot.release()

    async def _hold(
        self, call: CallInfo, rules: tuple[QuotaRule, ...], tenant: str, who: str
    ) -> Slot | None:
        """Hold the message's places under the running limits, and reserve the slot
        its execution will adopt; the places are let go when that slot ends."""
        running = self._running
        if running is None:
            return None  # not serving (an engine that never entered serving())
        limited = [rule for rule in rules if rule.running is not None]
        if not limited:
            return None
        limits = [
            RunningLimit((tenant, "running", *_parts(rule, tenant, who)[1:]), limit)
            for rule in limited
            if (limit := rule.running) is not None
        ]
        holder = uuid.uuid4().hex
        try:
            full = await self.backend.hold(limits, holder)
        except QuotaBackendError as exc:
            self._failed(exc)
            if self.on_backend_error == "closed":
                raise _unavailable() from None
            full, limits = None, []
        if full is not None:
            rule = limited[full]
            whose = "this tenant's callers" if rule.per == "tenant" else "this caller"
            raise RateLimitedError(
                f"Too many running tasks: {whose} may have {rule.running} running at "
                "once; retry once one has ended",
                retry_after=self.running_retry_after,
            )
        slot = running.reserve(tenant, call.context.owner)
        if limits:
            backend = self.backend
            slot.when_ended(lambda: backend.let_go(limits, holder))
        self._reserved[call] = slot
        return slot

    async def _take(self, buckets: list[Bucket]) -> Refusal | None:
        try:
            refusal = await self.backend.take(buckets)
        except QuotaBackendError as exc:
            self._failed(exc)
            if self.on_backend_error == "closed":
                raise _unavailable() from None
            return None
        if self._failing_since is not None:
            logger.warning(
                "quota backend %r answers again after %.1f s; limits apply again",
                self.backend,
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None
        return refusal

    def _failed(self, exc: QuotaBackendError) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._logged_at < LOG_EVERY:
            return
        self._logged_at = now
        logger.error(
            "quota backend %r cannot be asked (%s): calls are %s until it answers",
            self.backend,
            exc,
            "admitted without limits"
            if self.on_backend_error == "open"
            else "refused with 503",
        )


class RateLimiter(Quotas):
    """One rate for every caller: ``Quotas([QuotaRule(rate=limit)])``.

    ``accord serve --rate-limit 5/s`` (or ``300/min``, with an optional burst:
    ``5/s:20``) puts one in front of the served app.

    Args:
        limit: the rate and burst of every caller (tenant and principal).
        max_callers: callers whose buckets are kept at most (least recent go first).
        clock: seconds, monotonic (tests give their own).
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        max_callers: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_callers < 1:
            raise ValueError(f"max_callers must be >= 1 (got {max_callers})")
        self.limit = limit
        self._buckets = MemoryBuckets(max_buckets=max_callers, clock=clock)
        super().__init__([QuotaRule(rate=limit)], backend=self._buckets)

    def take(self, caller: tuple[str, str]) -> None:
        """Spend one of ``caller``'s (tenant, principal id) tokens now.

        Raises:
            RateLimitedError: none is left; ``retry_after`` says when one will be.
        """
        tenant, who = caller
        bucket = Bucket(_parts(self.rules[0], tenant, who), self.limit)
        refusal = self._buckets.take_now([bucket])
        if refusal is not None:
            raise _too_many(bucket, refusal.wait)


def backend_for(url: str, *, prefix: str | None = None) -> QuotaBackend:
    """``"memory"``: :class:`MemoryBuckets`; ``"redis://…"``: ``RedisBuckets`` (its
    keys under ``prefix``, default ``accord:quota:``).

    Raises:
        ValueError: neither, or a prefix for the memory backend.
    """
    if url == "memory":
        if prefix is not None:
            raise ValueError("key_prefix applies to a Redis backend only")
        return MemoryBuckets()
    if url.startswith("redis://"):
        from .redis import KEY_PREFIX, RedisBuckets

        return RedisBuckets(url, prefix=prefix or KEY_PREFIX)
    raise ValueError(
        f"{url!r} is not a quota backend: 'memory' (one instance) or a redis:// URL "
        "(shared by instances)"
    )


def _unavailable() -> UnavailableError:
    return UnavailableError(
        "The agent cannot check its rate limits right now; retry in a moment"
    )


def _too_many(bucket: Bucket, wait: float) -> RateLimitedError:
    """The refusal of a call over ``bucket``'s rate, saying whose limit it is."""
    _, per, *rest = bucket.parts
    whose = "this caller" if per == "principal" else "this tenant's callers together"
    skill = rest[-1]
    what = f" for the skill {skill!r}" if skill else ""
    return RateLimitedError(
        f"Too many requests: {whose} may make {bucket.limit.describe()}{what}; "
        f"retry in {math.ceil(wait)} s",
        retry_after=wait,
    )


def _parts(rule: QuotaRule, tenant: str, who: str) -> tuple[str, ...]:
    if rule.per == "tenant":
        return (tenant, "tenant", rule.skill or "")
    return (tenant, "principal", who, rule.skill or "")


def _declared(rule: QuotaRule) -> dict[str, Any]:
    declared: dict[str, Any] = {"per": rule.per}
    if rule.skill is not None:
        declared["skill"] = rule.skill
    if rule.rate is not None:
        declared["requestsPerSecond"] = rule.rate.per_second
        declared["burst"] = rule.rate.burst
    if rule.running is not None:
        declared["runningTasks"] = rule.running
    return declared

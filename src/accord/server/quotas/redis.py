"""Token buckets in Redis, shared by every instance: :class:`RedisBuckets`.

One script, run by Redis itself, checks and spends the buckets of a call at once, so
instances sharing a Redis never race each other, and reads Redis's clock, so the
instances' clocks do not matter. A bucket is a small hash (tokens, when counted) that
expires once it would be full again, so idle callers cost Redis nothing. Keys carry the
tenant as a hash tag (``accord:quota:{tenant}:…``): the buckets of one call share a
slot, as a Redis Cluster requires of a script's keys.

Running limits are sorted sets of holders, each scored with when it expires: a script
drops the expired ones, checks that every set has room and adds the holder to all of
them, or to none. While it holds a place the instance renews it (every
``running_ttl / 3`` seconds); once the execution ends it removes it. So the places of
an instance that crashed come free within ``running_ttl`` seconds, and no instance
can overshoot a limit.

Redis unreachable or slow (beyond ``timeout``) raises
:class:`~accord.server.quotas.buckets.QuotaBackendError`; the limiter then admits or
refuses as configured (``on_backend_error``) and logs it. After a failure the backend
does not try again for ``retry_interval`` seconds, so a dead Redis costs each call
nothing rather than a connection timeout.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio

from ._resp import RedisAddress, RespError, RespPool, RespUnavailable
from .buckets import QuotaBackendError, Refusal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .buckets import Bucket, RunningLimit

__all__ = ["KEY_PREFIX", "MAX_PENDING", "RedisBuckets"]

logger = logging.getLogger("accord.server.quotas")

#: The prefix of every key the backend writes.
KEY_PREFIX = "accord:quota:"

# KEYS: the buckets. ARGV: for each bucket, its rate (tokens per millisecond) and its
# size. Returns 0 when a token of every bucket was spent, else (nothing spent)
# "WAIT INDEX": the milliseconds until the slowest bucket holds one, and its 1-based
# index, as a string (Lua numbers would be truncated to integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tokens = {}
local wait = 0
local slowest = 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local size = tonumber(ARGV[2 * i])
  local held = redis.call('HMGET', key, 't', 'at')
  local tk = tonumber(held[1])
  local at = tonumber(held[2])
  if tk == nil or at == nil then
    tk = size
  else
    tk = math.min(size, tk + math.max(0, now - at) * rate)
  end
  tokens[i] = tk
  if tk < 1 and (1 - tk) / rate > wait then
    wait = (1 - tk) / rate
    slowest = i
  end
end
if slowest > 0 then
  return tostring(wait) .. ' ' .. tostring(slowest)
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local size = tonumber(ARGV[2 * i])
  redis.call('HSET', key, 't', tostring(tokens[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(size / rate) + 1000)
end
return 0
"""
# KEYS: the sets of places. ARGV: the holder, its time to live (ms), then each set's
# number of places. Returns 0 when the holder holds a place in each set, else (nothing
# held) the 1-based index of a set without room.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then
    return i
  end
end
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 0
"""

# KEYS: the sets of places; ARGV: the holder, its time to live (ms). Extends the
# holder's places that are still there.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local ttl = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', now + ttl, ARGV[1]) == 1 then
    redis.call('PEXPIRE', key, ttl)
  end
end
return 0
"""

# Redis names scripts by their SHA-1 (EVALSHA).
_SHA = {
    script: hashlib.sha1(script.encode()).hexdigest()
    for script in (_TAKE, _HOLD, _RENEW)
}
#: Places given back but not yet removed from Redis, at most (beyond: they expire).
MAX_PENDING = 10_000


class RedisBuckets:
    """Token buckets in Redis (see the module docstring).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``.
        prefix: the prefix of its keys (several agents may share one Redis).
        pool_size: connections at most.
        timeout: seconds a call may wait for Redis (connecting included).
        retry_interval: seconds without trying after Redis failed.
        running_ttl: seconds a place under a running limit lasts unless renewed (the
            places of a crashed instance come free after as long).

    Raises:
        ValueError: ``url`` is not a ``redis://`` URL.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = KEY_PREFIX,
        pool_size: int = 8,
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        running_ttl: float = 30.0,
    ) -> None:
        self.address = RedisAddress.parse(url)
        self.prefix = prefix
        self.retry_interval = retry_interval
        self.running_ttl = running_ttl
        self._pool = RespPool(
            self.address, size=pool_size, connect_timeout=timeout, timeout=timeout
        )
        self._failed_at: float | None = None
        #: holder -> the keys of its places, renewed while held.
        self._held: dict[str, list[str]] = {}
        #: (holder, keys) given back, to remove from Redis.
        self._letting_go: deque[tuple[str, list[str]]] = deque()
        self._wake = anyio.Event()
        self._stack: AsyncExitStack | None = None

    def __repr__(self) -> str:
        return f"RedisBuckets({str(self.address)!r})"

    async def __aenter__(self) -> RedisBuckets:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._pool.aclose)
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)
            tg.start_soon(self._keep_places)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def key(self, bucket: Bucket | RunningLimit) -> str:
        """The Redis key of ``bucket``: the tenant as the hash tag, parts escaped."""
        tenant, *rest = bucket.parts
        return f"{self.prefix}{{{quote(tenant, safe='')}}}:" + ":".join(
            quote(part, safe="") for part in rest
        )

    async def take(self, buckets: Sequence[Bucket]) -> Refusal | None:
        args: list[str | int | float] = [self.key(bucket) for bucket in buckets]
        for bucket in buckets:
            args += [repr(bucket.limit.per_second / 1000.0), bucket.limit.burst]
        reply = await self._run(_TAKE, len(buckets), args)
        if isinstance(reply, bytes):
            wait, index = reply.split()
            return Refusal(float(wait) / 1000.0, int(index) - 1)
        return None

    async def hold(self, limits: Sequence[RunningLimit], holder: str) -> int | None:
        keys = [self.key(limit) for limit in limits]
        args: list[str | int | float] = [*keys, holder, int(self.running_ttl * 1000)]
        args += [limit.limit for limit in limits]
        full = await self._run(_HOLD, len(keys), args)
        if full:
            return int(full) - 1
        self._held[holder] = keys
        return None

    def let_go(self, limits: Sequence[RunningLimit], holder: str) -> None:
        keys = self._held.pop(holder, None)
        if keys is None:
            return
        if len(self._letting_go) < MAX_PENDING:
            self._letting_go.append((holder, keys))
        self._wake.set()

    async def _keep_places(self) -> None:
        """Remove the places let go, and renew the held ones, while open."""
        every = self.running_ttl / 3
        renewed = time.monotonic()
        while True:
            with anyio.move_on_after(max(0.0, renewed + every - time.monotonic())):
                await self._wake.wait()
            self._wake = anyio.Event()
            try:
                while self._letting_go:
                    holder, keys = self._letting_go[0]
                    await self._pool.call("ZREM", keys[0], holder)
                    for key in keys[1:]:
                        await self._pool.call("ZREM", key, holder)
                    self._letting_go.popleft()
                if time.monotonic() - renewed >= every:
                    renewed = time.monotonic()
                    ttl = int(self.running_ttl * 1000)
                    for holder, keys in list(self._held.items()):
                        await self._run(_RENEW, len(keys), [*keys, holder, ttl])
            except (RespUnavailable, RespError, QuotaBackendError) as exc:
                logger.warning(
                    "quota backend %r: cannot update running places (%s); they "
                    "expire within %g s",
                    self,
                    exc,
                    self.running_ttl,
                )
                renewed = time.monotonic()
                self._letting_go.clear()

    async def _run(self, script: str, keys: int, args: list[str | int | float]) -> Any:
        """Run ``script`` (by its SHA-1, loading it if Redis lost it)."""
        failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < self.retry_interval:
            raise QuotaBackendError(
                f"{self.address} failed less than {self.retry_interval:g} s ago"
            )
        try:
            try:
                reply = await self._pool.call("EVALSHA", _SHA[script], keys, *args)
            except RespError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                reply = await self._pool.call("EVAL", script, keys, *args)
        except (RespUnavailable, RespError) as exc:
            self._failed_at = time.monotonic()
            raise QuotaBackendError(str(exc)) from exc
        self._failed_at = None
        return reply

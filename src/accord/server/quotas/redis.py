"""Token buckets in Redis, shared by every instance: :class:`RedisBuckets`.

One script, run by Redis itself, checks and spends the buckets of a call at once, so
instances sharing a Redis never race each other, and reads Redis's clock, so the
instances' clocks do not matter. A bucket is a small hash (tokens, when counted) that
expires once it would be full again, so idle callers cost Redis nothing. Keys carry the
tenant as a hash tag (``accord:quota:{tenant}:…``): the buckets of one call share a
slot, as a Redis Cluster requires of a script's keys.

Redis unreachable or slow (beyond ``timeout``) raises
:class:`~accord.server.quotas.buckets.QuotaBackendError`; the limiter then admits or
refuses as configured (``on_backend_error``) and logs it. After a failure the backend
does not try again for ``retry_interval`` seconds, so a dead Redis costs each call
nothing rather than a connection timeout.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from ._resp import RedisAddress, RespError, RespPool, RespUnavailable
from .buckets import QuotaBackendError, Refusal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .buckets import Bucket

__all__ = ["KEY_PREFIX", "RedisBuckets"]

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
# Redis names scripts by their SHA-1 (EVALSHA).
_TAKE_SHA = hashlib.sha1(_TAKE.encode()).hexdigest()


class RedisBuckets:
    """Token buckets in Redis (see the module docstring).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``.
        prefix: the prefix of its keys (several agents may share one Redis).
        pool_size: connections at most.
        timeout: seconds a call may wait for Redis (connecting included).
        retry_interval: seconds without trying after Redis failed.

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
    ) -> None:
        self.address = RedisAddress.parse(url)
        self.prefix = prefix
        self.retry_interval = retry_interval
        self._pool = RespPool(
            self.address, size=pool_size, connect_timeout=timeout, timeout=timeout
        )
        self._failed_at: float | None = None

    def __repr__(self) -> str:
        return f"RedisBuckets({str(self.address)!r})"

    async def __aenter__(self) -> RedisBuckets:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pool.aclose()

    def key(self, bucket: Bucket) -> str:
        """The Redis key of ``bucket``: the tenant as the hash tag, parts escaped."""
        tenant, *rest = bucket.parts
        return f"{self.prefix}{{{quote(tenant, safe='')}}}:" + ":".join(
            quote(part, safe="") for part in rest
        )

    async def take(self, buckets: Sequence[Bucket]) -> Refusal | None:
        failed_at = self._failed_at
        if failed_at is not None and time.monotonic() - failed_at < self.retry_interval:
            raise QuotaBackendError(
                f"{self.address} failed less than {self.retry_interval:g} s ago"
            )
        args: list[str | int | float] = [len(buckets)]
        args += [self.key(bucket) for bucket in buckets]
        for bucket in buckets:
            args += [repr(bucket.limit.per_second / 1000.0), bucket.limit.burst]
        try:
            try:
                reply = await self._pool.call("EVALSHA", _TAKE_SHA, *args)
            except RespError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                reply = await self._pool.call("EVAL", _TAKE, *args)
        except (RespUnavailable, RespError) as exc:
            self._failed_at = time.monotonic()
            raise QuotaBackendError(str(exc)) from exc
        self._failed_at = None
        if isinstance(reply, bytes):
            wait, index = reply.split()
            return Refusal(float(wait) / 1000.0, int(index) - 1)
        return None

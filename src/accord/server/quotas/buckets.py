"""Where quotas are counted: the :class:`QuotaBackend` contract and the in-process one.

A backend spends one token of several buckets at once, all or nothing, and says how
long to wait when one of them is empty; and it holds places under running limits, all
or nothing, until they are let go. :class:`MemoryBuckets` keeps both in this process
(one instance); :class:`~accord.server.quotas.redis.RedisBuckets` keeps them in Redis,
shared by every instance, updated atomically by scripts on the server.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .rules import RateLimit

__all__ = [
    "MAX_BUCKETS",
    "Bucket",
    "MemoryBuckets",
    "QuotaBackend",
    "QuotaBackendError",
    "Refusal",
    "RunningLimit",
]

#: Buckets :class:`MemoryBuckets` keeps at most (the least recently used go first).
MAX_BUCKETS = 100_000


class QuotaBackendError(Exception):
    """The backend could not be asked (unreachable, too slow, or refused the script)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One token bucket to spend from.

    Attributes:
        parts: who shares it: the tenant first, then the dimension (``"principal"``
            with the principal id, or ``"tenant"``), then the skill (``""``: none).
        limit: its rate and size.
    """

    parts: tuple[str, ...]
    limit: RateLimit


@dataclass(frozen=True, slots=True)
class RunningLimit:
    """Places for running tasks to hold one of.

    Attributes:
        parts: who shares them, as :attr:`Bucket.parts`.
        limit: how many there are.
    """

    parts: tuple[str, ...]
    limit: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call was refused: ``buckets[index]`` holds a token in ``wait`` seconds
    (and every other bucket of the call sooner)."""

    wait: float
    index: int


class QuotaBackend(Protocol):
    """Spends tokens; an async context manager open while the engine runs."""

    async def __aenter__(self) -> QuotaBackend: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def take(self, buckets: Sequence[Bucket]) -> Refusal | None:
        """Spend one token of each of ``buckets``, or none of them.

        Returns:
            None when the tokens were spent; otherwise (nothing was spent) the
            :class:`Refusal`: the bucket that must wait longest, and how long.

        Raises:
            QuotaBackendError: the backend could not answer.
        """
        ...

    async def hold(self, limits: Sequence[RunningLimit], holder: str) -> int | None:
        """Hold a place of each of ``limits`` for ``holder``, or none of them.

        Returns:
            None when held; otherwise the index of a limit with no place left.

        Raises:
            QuotaBackendError: the backend could not answer.
        """
        ...

    def let_go(self, limits: Sequence[RunningLimit], holder: str) -> None:
        """Give ``holder``'s places back; never waits (a shared backend sends it
        soon, and what it cannot send expires)."""
        ...


class MemoryBuckets:
    """Token buckets in this process, bounded (see :data:`MAX_BUCKETS`).

    A forgotten bucket starts again full, which only ever errs on the side of
    admitting.

    Args:
        max_buckets: buckets kept at most.
        clock: seconds, monotonic (tests give their own).
    """

    def __init__(
        self,
        *,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be >= 1 (got {max_buckets})")
        self.max_buckets = max_buckets
        self._clock = clock
        #: parts -> (tokens, when they were counted)
        self._buckets: OrderedDict[tuple[str, ...], tuple[float, float]] = OrderedDict()
        #: parts -> the holders of its places (bounded by the tasks running here)
        self._places: dict[tuple[str, ...], set[str]] = {}

    async def __aenter__(self) -> MemoryBuckets:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def take(self, buckets: Sequence[Bucket]) -> Refusal | None:
        return self.take_now(buckets)

    def take_now(self, buckets: Sequence[Bucket]) -> Refusal | None:
        """:meth:`take`, synchronously (it never waits)."""
        now = self._clock()
        held = self._buckets
        counted = []
        refusal = None
        for index, bucket in enumerate(buckets):
            limit = bucket.limit
            tokens, then = held.get(bucket.parts, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - then) * limit.per_second)
            counted.append(tokens)
            if tokens < 1.0:
                wait = (1.0 - tokens) / limit.per_second
                if refusal is None or wait > refusal.wait:
                    refusal = Refusal(wait, index)
        if refusal is not None:
            return refusal
        for bucket, tokens in zip(buckets, counted, strict=True):
            held.pop(bucket.parts, None)
            held[bucket.parts] = (tokens - 1.0, now)
            if len(held) > self.max_buckets:
                held.popitem(last=False)
        return None

    async def hold(self, limits: Sequence[RunningLimit], holder: str) -> int | None:
        places = self._places
        for index, limit in enumerate(limits):
            if len(places.get(limit.parts, ())) >= limit.limit:
                return index
        for limit in limits:
            places.setdefault(limit.parts, set()).add(holder)
        return None

    def let_go(self, limits: Sequence[RunningLimit], holder: str) -> None:
        places = self._places
        for limit in limits:
            held = places.get(limit.parts)
            if held is not None:
                held.discard(holder)
                if not held:
                    del places[limit.parts]

"""Rate limits per caller: a token bucket per (tenant, principal), as an interceptor.

Spec §13 asks agents to rate-limit every operation and to answer with an appropriate
error when a limit is exceeded. :class:`RateLimiter` is an
:class:`~accord.server.Interceptor`: it sees every operation of every binding once the
caller is authenticated, and refuses one over the limit with
:class:`~accord.errors.RateLimitedError` (HTTP 429 with ``Retry-After``, JSON-RPC
``-31429``, gRPC ``RESOURCE_EXHAUSTED``; reason ``RATE_LIMITED`` with
``retryAfterSeconds`` in the ErrorInfo metadata).

Each caller has a bucket of :attr:`RateLimit.burst` tokens refilled at
:attr:`RateLimit.per_second`; a call takes one, and a call that finds the bucket empty
is refused with the seconds until the next token. Callers are told apart by tenant and
principal id (anonymous callers share one bucket per tenant), so one partner flooding
does not spend another's allowance. Buckets live in this process (one instance; a
shared backend is the later step for many instances) and are bounded: at most
``max_callers`` are kept, the least recently seen forgotten first (a forgotten caller
starts again with a full bucket, which only ever errs on the side of admitting).

``accord serve --rate-limit 5/s`` (or ``300/min``, with an optional burst:
``5/s:20``) puts one in front of the served app.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.errors import RateLimitedError

from .interceptors import Interceptor

if TYPE_CHECKING:
    from collections.abc import Callable

    from .interceptors import CallInfo

__all__ = ["MAX_CALLERS", "RateLimit", "RateLimiter"]

#: Callers whose buckets are kept at most (the least recently seen go first).
MAX_CALLERS = 100_000

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_UNITS |= {"h": 3600.0, "hour": 3600.0}
_SPEC = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*(?::\s*(\d+))?\s*\Z")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A sustained rate and the burst a caller may spend at once.

    Attributes:
        per_second: tokens added per second.
        burst: the bucket's size: how many calls may come at once after a quiet
            spell (default: one second's worth, at least 1).

    Raises:
        ValueError: a rate that is not positive, or a burst below 1.
    """

    per_second: float
    burst: int = 0

    def __post_init__(self) -> None:
        if not self.per_second > 0 or math.isinf(self.per_second):
            raise ValueError(
                f"a rate limit needs a positive rate (got {self.per_second})"
            )
        if self.burst == 0:
            object.__setattr__(self, "burst", max(1, math.ceil(self.per_second)))
        if self.burst < 1:
            raise ValueError(f"a rate limit's burst is at least 1 (got {self.burst})")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"5/s"``, ``"300/min"``, ``"1000/h"``, with an optional burst: ``"5/s:20"``.

        Raises:
            ValueError: not of that form; the message shows the form.
        """
        match = _SPEC.match(text.lower())
        unit = _UNITS.get(match[2]) if match else None
        if match is None or unit is None:
            raise ValueError(
                f"{text!r} is not a rate: write N/s, N/min or N/h, optionally with a "
                "burst, e.g. 5/s or 300/min:20"
            )
        if match[3] and int(match[3]) < 1:
            raise ValueError(f"{text!r}: a burst is at least 1")
        return cls(float(match[1]) / unit, int(match[3] or 0))


class RateLimiter(Interceptor):
    """Refuses the calls of a caller beyond ``limit`` (see the module docstring).

    Args:
        limit: the rate and burst of every caller.
        max_callers: buckets kept at most.
        clock: seconds, monotonic (tests give their own).
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        max_callers: int = MAX_CALLERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_callers < 1:
            raise ValueError(f"max_callers must be >= 1 (got {max_callers})")
        self.limit = limit
        self.max_callers = max_callers
        self._clock = clock
        #: (tenant, principal id) -> (tokens, when they were counted)
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    async def before(self, call: CallInfo) -> None:
        principal = call.principal
        self.take((call.tenant, "" if principal is None else principal.id))

    def take(self, caller: tuple[str, str]) -> None:
        """Spend one of ``caller``'s tokens.

        Raises:
            RateLimitedError: none is left; ``retry_after`` says when one will be.
        """
        limit = self.limit
        now = self._clock()
        tokens, then = self._buckets.pop(caller, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - then) * limit.per_second)
        if tokens < 1.0:
            self._keep(caller, (tokens, now))
            wait = (1.0 - tokens) / limit.per_second
            raise RateLimitedError(
                f"Too many requests: this caller may make {_rate(limit)}; "
                f"retry in {math.ceil(wait)} s",
                retry_after=wait,
            )
        self._keep(caller, (tokens - 1.0, now))

    def _keep(self, caller: tuple[str, str], bucket: tuple[float, float]) -> None:
        self._buckets[caller] = bucket
        if len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)


def _rate(limit: RateLimit) -> str:
    per_second = limit.per_second
    if per_second >= 1:
        return f"{per_second:g} requests a second (bursts of {limit.burst})"
    return f"{per_second * 60:g} requests a minute (bursts of {limit.burst})"

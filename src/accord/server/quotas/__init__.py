"""Quotas: request rates and running tasks per caller, tenant and skill (spec §13).

* :class:`QuotaRule`: one limit (a :class:`RateLimit`, a number of running tasks, or
  both) for each caller or each tenant, optionally for one tenant, principal or
  skill; which rules apply to a call is one table (:func:`applicable`);
* :class:`Quotas`: the interceptor that enforces them (429 with ``Retry-After`` on
  every binding), from Python or a TOML file (:meth:`Quotas.from_file`), and declares
  the defaults in the card (:data:`QUOTA_EXTENSION`); :class:`RateLimiter` is its
  one-rate form (``accord serve --rate-limit``);
* where the rate buckets live: :class:`MemoryBuckets` (one instance) or
  :class:`~accord.server.quotas.redis.RedisBuckets` (many instances), behind the
  :class:`QuotaBackend` contract.
"""

from __future__ import annotations

from .buckets import (
    Bucket,
    MemoryBuckets,
    QuotaBackend,
    QuotaBackendError,
    Refusal,
    RunningLimit,
)
from .limiter import QUOTA_EXTENSION, Quotas, RateLimiter, backend_for, skill_of
from .rules import QuotaRule, RateLimit, applicable

__all__ = [
    "QUOTA_EXTENSION",
    "Bucket",
    "MemoryBuckets",
    "QuotaBackend",
    "QuotaBackendError",
    "QuotaRule",
    "Quotas",
    "RateLimit",
    "RateLimiter",
    "Refusal",
    "RunningLimit",
    "applicable",
    "backend_for",
    "skill_of",
]

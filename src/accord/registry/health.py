"""Health: the registry re-fetches each agent's card, and records what it saw.

Theory of operation. Agents registered by URL are re-fetched when due
(:meth:`.store.RegistryStore.due`). A check sends the last ``ETag`` back
(``If-None-Match``); a ``304`` or a ``200`` marks the agent *up* with the observed
latency, a failure (refused connection, timeout, an error status) marks it *down*
and counts the failures in a row. The next check is due when the response stops being fresh,
as a shared cache reads it (``s-maxage``, ``max-age``, ``Expires``, ``Age``:
:func:`next_interval`; clamped to ``min_interval``..``max_interval``;
``no-cache``/``no-store`` mean ``min_interval``), else after ``interval``; a down
agent is retried after ``retry_interval``. A ``200`` card goes through registration
again (:meth:`.registration.Registrar.accept`): a changed card becomes a new version
with its diff, flagged when its ``version`` did not change. A card that no longer
verifies is not recorded and the agent is marked down with the reason.

:class:`HealthChecker` runs in the registry server's task group (its lifespan owns
it, :class:`~accord.registry.api.RegistryApp`): at most ``concurrency`` checks at
once, each bounded by ``timeout``; between rounds it waits ``poll`` seconds.
:meth:`HealthChecker.check_due` runs one round (tests, ``accord registry check``).
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from .entries import Entry, Health, Status
from .registration import RegistrationError

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from .registration import Registrar
    from .store import RegistryStore

__all__ = ["HealthChecker", "HealthSettings", "next_interval"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthSettings:
    """How often and how hard the registry checks its agents.

    Attributes:
        interval: seconds between checks when the card response says nothing.
        min_interval: the shortest interval a card response may ask for.
        max_interval: the longest.
        retry_interval: seconds before a down agent is checked again.
        timeout: seconds one check may take.
        concurrency: checks at once.
        batch: agents taken per round.
        poll: seconds between rounds.
        clock: Unix time (tests pass a fake one).

    Raises:
        ValueError: a number that is not positive (the message says which).
    """

    interval: float = 300.0
    min_interval: float = 30.0
    max_interval: float = 86_400.0
    retry_interval: float = 60.0
    timeout: float = 10.0
    concurrency: int = 8
    batch: int = 100
    poll: float = 1.0
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        for name in (
            "interval",
            "min_interval",
            "max_interval",
            "retry_interval",
            "timeout",
            "poll",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"health {name} must be a positive number of seconds")
        if self.concurrency < 1 or self.batch < 1:
            raise ValueError("health concurrency and batch must be at least 1")


def next_interval(headers: httpx.Headers, settings: HealthSettings) -> float:
    """Seconds until the next check: how long the card response says it stays fresh.

    The registry re-fetches a card as a shared cache would (RFC 9111 §4.2.1):
    ``s-maxage``, else ``max-age``, else ``Expires`` minus the response's ``Date``
    (this instance's clock when it has none); less the response's ``Age``. An
    ``Expires`` that is not a date (``0`` is common) means stale already (RFC 9111
    §5.3), as do ``no-cache`` and ``no-store``: checked again after
    ``min_interval``. The result is clamped to ``min_interval``..``max_interval``;
    a response that says nothing is checked again after ``interval``.
    """
    directives: dict[str, str] = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return settings.min_interval
    lifetime = _lifetime(directives, headers, settings.clock)
    if lifetime is None:
        return settings.interval
    age = headers.get("age", "").strip()
    if age.isdigit():
        lifetime -= int(age)
    return min(max(lifetime, settings.min_interval), settings.max_interval)


def _lifetime(
    directives: dict[str, str], headers: httpx.Headers, clock: Callable[[], float]
) -> float | None:
    """The freshness lifetime the response gives (RFC 9111 §4.2.1), or None."""
    for name in ("s-maxage", "max-age"):
        value = directives.get(name, "")
        if value.isdigit():
            return float(value)
    expires = headers.get("expires")
    if expires is None:
        return None
    expires_at = _http_date(expires)
    if expires_at is None:
        return 0.0  # not a date: already expired (RFC 9111 §5.3)
    date = _http_date(headers.get("date", ""))
    return expires_at - (clock() if date is None else date)


def _http_date(value: str) -> float | None:
    """An HTTP-date as Unix time (None when it is not one)."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # an HTTP-date is always GMT (RFC 9110 §5.6.7)
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


class HealthChecker:
    """Re-fetches due agents' cards and records their health (see the module doc)."""

    def __init__(
        self, store: RegistryStore, registrar: Registrar, settings: HealthSettings
    ) -> None:
        self.store = store
        self.registrar = registrar
        self.settings = settings

    async def run(self) -> None:
        """Check due agents forever (until cancelled by the owner's task group)."""
        while True:
            try:
                checked = await self.check_due()
            except Exception:
                logger.exception("registry health round failed; retrying")
                checked = 0
            if checked < self.settings.batch:
                await anyio.sleep(self.settings.poll)

    async def check_due(self) -> int:
        """Check every agent due now (one round, at most ``batch``); how many."""
        due = await self.store.due(self.settings.clock(), self.settings.batch)
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def one(entry: Entry) -> None:
            async with limiter:
                health = await self.check(entry)
                await self.store.record_health(entry.tenant, entry.identifier, health)

        async with anyio.create_task_group() as tasks:
            for entry in due:
                tasks.start_soon(one, entry)
        return len(due)

    async def check(self, entry: Entry) -> Health:
        """Fetch ``entry``'s card once and say what that means for its health."""
        settings = self.settings
        assert entry.source_url is not None
        previous = entry.health
        error = ""
        with anyio.move_on_after(settings.timeout) as scope:
            try:
                fetched = await self.registrar.fetch(
                    entry.source_url, etag=previous.etag
                )
                if fetched.status == 200:
                    await self.registrar.accept(
                        entry.tenant, fetched.content, source_url=entry.source_url
                    )
            except RegistrationError as exc:
                error = exc.message
        if scope.cancelled_caught:
            error = f"no answer within {settings.timeout:g} s"
        now = settings.clock()
        if error:
            return Health(
                status=Status.DOWN,
                checked_at=now,
                latency_ms=None,
                next_check_at=now + settings.retry_interval,
                etag=previous.etag,
                failures=previous.failures + 1,
                error=error,
            )
        return Health(
            status=Status.UP,
            checked_at=now,
            latency_ms=round(fetched.latency_ms, 3),
            next_check_at=now + next_interval(fetched.headers, settings),
            etag=fetched.headers.get("etag", previous.etag),
            failures=0,
        )

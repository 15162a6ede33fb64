"""Push delivery: every event of a task's log, in order, to each of its webhooks.

The task's event log is what is delivered and each config's row is its outbox
(:class:`~accord.stores.base.PushConfigStore`): :class:`PushDeliverer` leases configs
that have events past their ``delivered_seq`` (any instance may, each config goes to
one at a time), reads the events from the log and POSTs them one by one (spec §4.3.3:
the body is the ``StreamResponse``, as in a stream), advancing the config's position
after each 2xx. So delivery is at least once, in order per task and config, and
survives restarts and kill -9: what was not acknowledged is sent again, with the same
notification id (``Accord-Notification-Id: <task>/<config>/<seq>``) for the receiver
to drop duplicates. A deliverer renews the leases of its deliveries under way every
third of a lease, so an attempt may last longer than the lease
(:attr:`PushSettings.attempt_timeout`) without another instance taking the config
over; should a renewal come late, its own next claim takes the config again (which
renews the lease too) and starts no second delivery of it.

A failure (no connection, a timeout, a non-2xx answer, a redirect: they are not
followed) releases the config until a backoff has passed, exponential with jitter and
at least the receiver's ``Retry-After``; after :attr:`PushSettings.give_up_after`
failures in a row the config is dead-lettered with the reason (visible, and revived by
:meth:`~accord.stores.base.PushConfigStore.revive_push_config`). Every request goes
through the egress policy (:mod:`accord.egress`): the address is checked when it is
resolved and the connection pinned to it, so a webhook host that resolves to a
private address later is refused then too.

Wake-ups: the instance that writes a task event nudges its own deliverer at once
(:meth:`PushDeliverer.nudge`); every deliverer also looks at the store every
:attr:`PushSettings.poll_interval` seconds for what other instances left (retries,
configs whose deliverer stopped).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from typing import TYPE_CHECKING

import anyio
import httpx

from accord.egress import EgressRefused, egress_client
from accord.protocol.push import (
    MEDIA_TYPE,
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    TOKEN_HEADER,
    notification_id,
)
from accord.security.push import sign_notification
from accord.stores.base import Scope
from accord.types import encode

from .sealing import SealError

if TYPE_CHECKING:
    from collections.abc import Callable

    from accord.security import JWK
    from accord.stores.base import (
        PushConfigStore,
        PushDelivery,
        StoredEvent,
        TaskStore,
    )
    from accord.types import TaskPushNotificationConfig

    from ..interceptors import PushOutcome
    from .configs import PushConfigs, PushSettings

__all__ = ["PushDeliverer", "backoff", "retry_after_seconds"]

logger = logging.getLogger(__name__)

#: Events delivered per lease before the config goes back for others' turn.
BATCH = 50
#: Seconds a stopping deliverer may take to hand back a config it was delivering.
RELEASE_TIMEOUT = 5.0


def backoff(
    failures: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next attempt after ``failures`` failures in a row (>= 1):
    ``base * 2**(failures-1)`` capped at ``cap``, with jitter (between half and all
    of it), and never sooner than the receiver's ``retry_after`` (itself capped)."""
    delay = min(cap, base * 2 ** max(0, failures - 1))
    delay *= 0.5 + 0.5 * (rng or random).random()
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return float(delay)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date,
    RFC 9110 §10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Failed(Exception):
    """One delivery attempt failed: why, and what the receiver asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PushDeliverer:
    """Delivers one engine's push notifications (see the module docstring).

    Run :meth:`run` in a task group for the engine's lifetime; :meth:`nudge` after a
    task event is written. ``observe``, when given, is told how each attempt ended
    (``(task id, outcome)``, :data:`~accord.server.interceptors.PushOutcome`).
    """

    def __init__(
        self,
        configs: PushConfigs,
        tasks: TaskStore,
        *,
        holder: str,
        signer: JWK | None = None,
        observe: Callable[[str, PushOutcome], None] | None = None,
    ) -> None:
        self.configs = configs
        #: Told how each attempt ended (the engine's interceptors: metrics).
        self.observe = observe
        self.signer = signer
        self.tasks = tasks
        self.store: PushConfigStore = configs.store
        self.settings: PushSettings = configs.settings
        self.holder = holder
        self._wake = anyio.Event()
        self._slots = anyio.CapacityLimiter(self.settings.concurrency)
        #: The configs (task id, config id) this deliverer is delivering right now.
        self._delivering: set[tuple[str, str]] = set()
        self._rng = random.Random()

    def nudge(self) -> None:
        """Look for deliveries now (a task event was written); never suspends."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver until cancelled."""
        settings = self.settings
        # As many connections kept alive as deliveries in flight: fewer, and each
        # delivery beyond them would open (and close) a connection of its own.
        slots = settings.concurrency
        limits = httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
        async with (
            egress_client(settings.egress, limits=limits) as client,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(self._renewing)
            while True:
                self._wake = anyio.Event()
                free = int(self._slots.available_tokens)
                claimed: list[PushDelivery] = []
                if free:
                    try:
                        claimed = await self.store.claim_push_deliveries(
                            holder=self.holder,
                            seconds=settings.lease_seconds,
                            limit=free,
                        )
                    except Exception as exc:  # the store is down: try again later
                        logger.warning("push delivery: cannot claim work: %s", exc)
                for delivery in claimed:
                    key = (delivery.config.task_id, delivery.config.config_id)
                    if key in self._delivering:
                        # Ours, and still being delivered (an attempt may outlast
                        # the lease): the claim has renewed its lease; a second
                        # delivery would send the same events again, concurrently.
                        continue
                    self._delivering.add(key)
                    await self._slots.acquire_on_behalf_of(delivery)
                    tg.start_soon(self._deliver_one, client, delivery)
                if len(claimed) == free and free:
                    continue  # there may be more due right now
                with anyio.move_on_after(settings.poll_interval):
                    await self._wake.wait()

    async def _renewing(self) -> None:
        """Renew the leases of the deliveries under way, every third of a lease: an
        attempt may last longer than the lease (``attempt_timeout``), and another
        deliverer must not take over a config whose delivery goes on."""
        settings = self.settings
        while True:
            await anyio.sleep(settings.lease_seconds / 3)
            if not self._delivering:
                continue
            try:
                await self.store.renew_push_leases(
                    sorted(self._delivering),
                    holder=self.holder,
                    seconds=settings.lease_seconds,
                )
            except Exception as exc:  # the store is down: the next claim tells
                logger.warning("push delivery: cannot renew leases: %s", exc)

    async def _deliver_one(
        self, client: httpx.AsyncClient, delivery: PushDelivery
    ) -> None:
        try:
            await self._deliver(client, delivery)
        except anyio.get_cancelled_exc_class():
            # Stopping: hand the config back now, so that another instance (or this
            # one restarted) goes on at once rather than when the lease runs out.
            with anyio.move_on_after(RELEASE_TIMEOUT, shield=True):
                await self.store.release_push(
                    delivery.config.task_id,
                    delivery.config.config_id,
                    holder=self.holder,
                )
            raise
        except Exception:
            logger.exception(
                "push delivery of task %s config %s failed unexpectedly",
                delivery.config.task_id,
                delivery.config.config_id,
            )
        finally:
            self._delivering.discard(
                (delivery.config.task_id, delivery.config.config_id)
            )
            self._slots.release_on_behalf_of(delivery)
            self.nudge()  # a slot is free

    async def _deliver(self, client: httpx.AsyncClient, delivery: PushDelivery) -> None:
        record = delivery.config
        task_id, config_id = record.task_id, record.config_id
        try:
            config = self.configs.open(record)
        except SealError as exc:
            await self.store.push_failed(
                task_id,
                config_id,
                holder=self.holder,
                retry_in=None,
                reason=f"the config cannot be opened: {exc}",
            )
            if self.observe is not None:
                self.observe(task_id, "dead_letter")
            return
        events = await self.tasks.events(
            task_id,
            after=record.delivered_seq,
            scope=Scope(tenant=record.tenant, owner=None),
        )
        # Within half the lease: a config whose lease ran out may be claimed by
        # another deliverer, which would send the same events again.
        deadline = time.monotonic() + self.settings.lease_seconds / 2
        for event in events[:BATCH]:
            if time.monotonic() > deadline:
                break
            try:
                await self._post(client, config, event)
            except _Failed as failed:
                await self._failed(delivery, failed)
                return
            if self.observe is not None:
                self.observe(task_id, "delivered")
            if not await self.store.push_delivered(
                task_id, config_id, holder=self.holder, seq=event.seq
            ):
                return  # another deliverer has it now (our lease expired)
        await self.store.release_push(task_id, config_id, holder=self.holder)

    async def _failed(self, delivery: PushDelivery, failed: _Failed) -> None:
        settings = self.settings
        record = delivery.config
        failures = record.failures + 1
        give_up = failures >= settings.give_up_after
        logger.info(
            "push notification for task %s config %s failed (%d in a row%s): %s",
            record.task_id,
            record.config_id,
            failures,
            "; dead-lettered" if give_up else "",
            failed.reason,
        )
        await self.store.push_failed(
            record.task_id,
            record.config_id,
            holder=self.holder,
            retry_in=None
            if give_up
            else backoff(
                failures,
                base=settings.retry_base,
                cap=settings.retry_max,
                retry_after=failed.retry_after,
                rng=self._rng,
            ),
            reason=f"{failures} attempts failed; the last: {failed.reason}",
        )
        if self.observe is not None:
            self.observe(record.task_id, "dead_letter" if give_up else "failed")

    async def _post(
        self,
        client: httpx.AsyncClient,
        config: TaskPushNotificationConfig,
        event: StoredEvent,
    ) -> None:
        body = encode(event.event)
        nid = notification_id(config.task_id, config.id, event.seq)
        headers = {"Content-Type": MEDIA_TYPE, NOTIFICATION_ID_HEADER: nid}
        if self.signer is not None:
            # Signed at each attempt: ``iat`` tells a receiver how fresh it is.
            headers[SIGNATURE_HEADER] = sign_notification(
                body, self.signer, notification_id=nid, audience=config.url
            )
        auth = config.authentication
        if auth is not None:
            # spec §4.3.3, §13.2: the configured credentials, in the request headers.
            headers["Authorization"] = (
                f"{auth.scheme} {auth.credentials}" if auth.credentials else auth.scheme
            )
        if config.token:
            headers[TOKEN_HEADER] = config.token
        limit = self.settings.attempt_timeout
        try:
            # One deadline for the whole attempt: the per-read timeouts alone would let
            # a receiver that trickles a byte at a time hold the delivery forever.
            with anyio.fail_after(limit):
                async with client.stream(
                    "POST", config.url, content=body, headers=headers
                ) as response:
                    await _drain(response, self.settings.egress.max_response_bytes)
        except EgressRefused as refused:
            raise _Failed(str(refused)) from None
        except (httpx.TimeoutException, TimeoutError):
            raise _Failed(f"the webhook did not answer within {limit} s") from None
        except httpx.ConnectError as exc:
            raise _Failed(f"cannot reach the webhook: {exc}") from None
        except httpx.HTTPError as exc:
            raise _Failed(f"the webhook connection failed: {exc!r}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            raise _Failed(
                f"the webhook redirected ({status}); redirects are not followed"
            )
        raise _Failed(
            f"the webhook answered {status}",
            retry_after_seconds(response.headers.get("retry-after")),
        )


async def _drain(response: httpx.Response, limit: int) -> None:
    """Read at most ``limit`` bytes of an answer (nothing of it is needed)."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= limit:
            return

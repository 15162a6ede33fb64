"""How :class:`~accord.client.Client` sends a call: through its router, again after a
429 when the wait is short (spec §13), recorded in the audit sink when it has one
(:mod:`accord.client.audit`), with the headers its call hooks add."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio

from accord.errors import RateLimitedError
from accord.protocol.operations import op

from . import audit
from .hooks import call_headers, sending, with_extensions
from .stream import EventStream

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping, Sequence

    from accord.stores.audit import AuditRecord
    from accord.types import AgentCard

    from ._router import Router
    from .config import ClientConfig

__all__: list[str] = []


class Calls:
    """The sending half of a :class:`~accord.client.Client` (its base class)."""

    _card: AgentCard | None
    _card_hash: tuple[AgentCard | None, str]
    _router: Router
    _config: ClientConfig

    async def _call(self, name: str, params: Any) -> Any:
        sink = self._config.audit
        if sink is None:
            return await self._send(name, params)
        started = time.monotonic()
        sent: dict[str, str] = {}  # what the call hooks added (their traceparent)
        try:
            result = await self._send(name, params, sent)
        except Exception as exc:
            record = self._record(name, params, None, exc, started, sent=sent)
            await audit.write(sink, record)
            raise
        record = self._record(name, params, result, None, started, sent=sent)
        await audit.write(sink, record)
        return result

    def _record(
        self,
        name: str,
        params: Any,
        result: Any,
        error: BaseException | None,
        started: float,
        *,
        events: int = 0,
        task_id: str = "",
        sent: Mapping[str, str] | None = None,
    ) -> AuditRecord:
        """The caller's audit record of one call (:mod:`accord.client.audit`);
        ``sent``: the headers the call hooks added to it."""
        card = self._card
        if card is not None and self._card_hash[0] is not card:
            self._card_hash = (card, audit.card_hash(card))
        interface = self._router.interface
        return audit.call_record(
            operation=name,
            tenant=interface.tenant if interface is not None else "",
            request=params,
            result=result,
            error=error,
            started=started,
            headers={**self._router.headers, **sent} if sent else self._router.headers,
            card=self._card_hash[1] if card is not None else "",
            peer=interface.url if interface is not None else "",
            events=events,
            task_id=task_id,
        )

    async def _send(
        self, name: str, params: Any, sent: dict[str, str] | None = None
    ) -> Any:
        # A call refused for the caller's rate limit did nothing (the limit is checked
        # before anything else), so it is sent again once the agent's Retry-After has
        # passed: at most rate_limit_retries times, and only for a short enough wait.
        retries = self._config.rate_limit_retries
        while True:
            try:
                return await self._router.call(op(name), params, sent=sent)
            except RateLimitedError as limited:
                if (
                    retries <= 0
                    or limited.retry_after > self._config.rate_limit_max_wait
                ):
                    raise
                retries -= 1
                await anyio.sleep(limited.retry_after)

    def _stream(
        self,
        name: str,
        params: Any,
        last_event_id: str | None = None,
        *,
        activate: Sequence[str] = (),
    ) -> EventStream:
        """A stream of ``name``; ``activate``: extensions its request activates (and
        those of an :func:`~accord.client.hooks.activating` block it is made in)."""
        sink = self._config.audit
        sent: dict[str, str] | None = None if sink is None else {}
        events = self._router.stream(op(name), params, last_event_id, sent=sent)
        added = with_extensions(call_headers(), activate)
        if added:  # the request is sent at the first event, maybe outside this block
            events = _sent_with(events, added)
        if sink is None:
            return EventStream(events)
        assert sent is not None  # what the call hooks added (their traceparent)
        started = time.monotonic()

        async def ended(stream: EventStream, error: BaseException | None) -> None:
            record = self._record(
                name,
                params,
                None,
                error,
                started,
                events=stream.events,
                task_id=stream.task_id,
                sent=sent,
            )
            await audit.write(sink, record)

        return EventStream(events, on_end=ended)


async def _sent_with(
    events: AsyncGenerator[Any, None], headers: Mapping[str, str]
) -> AsyncGenerator[Any, None]:
    """``events``, their request sent with ``headers`` added (hooks.py): it goes out
    when the first event is awaited, wherever the stream is read."""
    try:
        with sending(headers):
            first = await anext(events)
    except StopAsyncIteration:
        return
    try:
        yield first
        async for event in events:
            yield event
    finally:
        await events.aclose()

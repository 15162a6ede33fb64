"""The Receptionist's behaviour: one method per skill, progress streamed at a visible pace."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import anyio

from ._card import (
    ESCALATE,
    MAX_DAYS_AHEAD,
    MAX_WINDOW,
    PRIORITIES,
    SCHEDULE,
    SKILL_LIST,
    SKILLS,
    SUMMARY,
)
from ._desk import Desk, SqliteDesk
from ._parsing import (
    EXAMPLE_PHONE,
    Invalid,
    Request,
    gather,
    iso,
    normalise_phone,
    priority_of,
)
from ._store import Database

if TYPE_CHECKING:
    from collections.abc import Mapping

    from accord.server import TaskContext

__all__ = ["DEFAULT_PACE", "PACE_ENV", "Pace", "Receptionist", "pace_from_env"]

#: Environment variable setting the seconds each progress step takes (e.g. ``0``).
PACE_ENV = "ACCORD_DEMO_PACE"
#: Seconds per progress step by default: a request takes about 1.5 s, slow enough
#: for ``accord send --stream`` to show each update arrive.
DEFAULT_PACE = 0.5

#: How long a progress step takes: seconds, or a coroutine function awaited for each
#: step instead (tests pass a gate, so steps wait for an event rather than a clock).
Pace = float | Callable[[], Awaitable[None]]


def pace_from_env(env: Mapping[str, str] = os.environ) -> float:
    """Seconds per progress step: ``$ACCORD_DEMO_PACE``, else :data:`DEFAULT_PACE`.

    Raises:
        ValueError: the variable is not a number of seconds >= 0.
    """
    value = env.get(PACE_ENV, "").strip()
    if not value:
        return DEFAULT_PACE
    try:
        pace = float(value)
    except ValueError:
        pace = -1.0
    if not 0 <= pace < 3600:
        raise ValueError(
            f"{PACE_ENV}={value!r} is not a number of seconds per progress step; "
            "use e.g. 0.5, or 0 for no pause"
        )
    return pace


class Receptionist:
    """The behaviour of the agent; :func:`create_agent` wraps it in an :class:`Agent`.

    Args:
        db: SQLite file holding the receptionist's tables (the server's task file).
        clock: returns the current time (aware); injectable for tests.
        pace: seconds each progress step of a skill takes (a skill has three, so a
            request takes about three times this); default ``$ACCORD_DEMO_PACE``,
            else :data:`DEFAULT_PACE`. 0 runs the skills at full speed (tests); a
            coroutine function is awaited for each step instead.
        desk: where each execution keeps bookings, reads call records and opens
            tickets (default: :class:`~._desk.SqliteDesk` on ``db``).
    """

    def __init__(
        self,
        db: str,
        *,
        clock: Callable[[], datetime] | None = None,
        pace: Pace | None = None,
        desk: Callable[[TaskContext], Desk] | None = None,
    ) -> None:
        if pace is not None and not callable(pace) and not pace >= 0:
            raise ValueError(f"pace must be a number of seconds >= 0, not {pace!r}")
        self.db = Database(db)
        local = SqliteDesk(self.db)
        #: The desk each execution keeps its records at (default: the SQLite
        #: tables, in this process; ``with_mcp``: an MCP server's tools).
        self.desk: Callable[[TaskContext], Desk] = desk or (lambda ctx: local)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pace = pace_from_env() if pace is None else pace

    async def _step(self, ctx: TaskContext, text: str) -> None:
        """Report progress (a WORKING status update), then take :attr:`pace` seconds.

        The skills are instant lookups; the pace stands for the work a real desk
        does, so that a streaming caller sees the updates arrive one by one.
        """
        await ctx.working(text)
        if callable(self.pace):
            await self.pace()
        elif self.pace > 0:
            await anyio.sleep(self.pace)

    def _example_window(self) -> str:
        day = (self.clock() + timedelta(days=1)).date().isoformat()
        return f"{day} 14:00-15:00"

    async def __call__(self, ctx: TaskContext) -> None:
        try:
            request = gather(ctx, self._example_window(), self.clock().date())
        except Invalid as invalid:
            await ctx.reject(str(invalid))
            return
        if request.skill == SCHEDULE:
            await self.schedule_callback(ctx, request)
        elif request.skill == SUMMARY:
            await self.fetch_call_summary(ctx, request)
        elif request.skill == ESCALATE:
            await self.escalate_to_human(ctx, request)
        else:
            unknown = (
                f"I do not know the skill {request.skill!r}. " if request.skill else ""
            )
            await ctx.ask_for_input(
                unknown + SKILL_LIST, data={"skills": [skill.id for skill in SKILLS]}
            )

    async def schedule_callback(self, ctx: TaskContext, request: Request) -> None:
        """Validate, then book the callback, streaming progress on the way."""
        example = self._example_window()
        missing = []
        if request.phone is None:
            missing.append(
                ("phone", f"the phone number to call (e.g. {EXAMPLE_PHONE})")
            )
        if request.window is None:
            missing.append(
                ("window", f"the time window for the callback (e.g. {example})")
            )
        if missing:
            needs = " and ".join(text for _, text in missing)
            await ctx.ask_for_input(
                f"To schedule a callback I still need {needs}.",
                data={"skill": SCHEDULE, "missing": [name for name, _ in missing]},
            )
            return
        assert request.phone is not None
        assert request.window is not None
        try:
            phone = normalise_phone(request.phone)
            start, end = request.window
            self._check_window(start, end, example)
        except Invalid as invalid:
            await ctx.reject(str(invalid))
            return

        await self._step(ctx, "Checking availability…")
        await self._step(ctx, "Reserving the slot…")
        now = iso(self.clock())

        seq = await self.desk(ctx).book(
            phone, iso(start), iso(end), task_id=ctx.task_id, now=now
        )
        booking_id = f"cb-{seq:04d}"
        booking = {
            "bookingId": booking_id,
            "phone": phone,
            "window": {"start": iso(start), "end": iso(end)},
            "status": "confirmed",
        }
        await ctx.add_artifact(data=booking, name="callback-booking")
        await self._step(ctx, f"Sending the confirmation to {phone}…")
        await ctx.complete(
            f"Callback {booking_id} confirmed: we will call {phone} between "
            f"{iso(start)} and {iso(end)}."
        )

    def _check_window(self, start: datetime, end: datetime, example: str) -> None:
        now = self.clock()
        if end <= start:
            raise Invalid(
                f"The time window ends at {iso(end)}, which is not after its start "
                f"({iso(start)}): the end must be later than the start, e.g. {example}."
            )
        if end - start > MAX_WINDOW:
            hours = (end - start).total_seconds() / 3600
            raise Invalid(
                f"The time window is {hours:g} hours long; a callback window can be at "
                f"most {MAX_WINDOW.total_seconds() / 3600:g} hours, e.g. {example}."
            )
        if start < now:
            raise Invalid(
                f"The time window starts in the past ({iso(start)}; it is now "
                f"{iso(now)}): choose a future window, e.g. {example}."
            )
        if start > now + timedelta(days=MAX_DAYS_AHEAD):
            raise Invalid(
                f"The time window starts {iso(start)}, more than {MAX_DAYS_AHEAD} days "
                f"ahead; choose a window before {iso(now + timedelta(days=MAX_DAYS_AHEAD))}, "
                f"e.g. {example}."
            )

    async def fetch_call_summary(self, ctx: TaskContext, request: Request) -> None:
        """Return the summary of a recorded call."""
        if request.call_id is None:
            await ctx.ask_for_input(
                "Which call should I summarise? Give its call id, e.g. call-1001.",
                data={"skill": SUMMARY, "missing": ["callId"]},
            )
            return
        await self._step(ctx, f"Looking up {request.call_id}…")
        call = await self.desk(ctx).call_record(request.call_id)
        if call is None:
            await ctx.fail(_unknown_call(request.call_id))
            return
        await self._step(ctx, "Reading the transcript…")
        await self._step(ctx, "Drafting the summary…")
        minutes, seconds = divmod(call["durationSeconds"], 60)
        text = (
            f"Call {call['callId']} from {call['caller']} ({call['phone']}), "
            f"{call['startedAt']}, {minutes} min {seconds} s: {call['summary']}"
        )
        await ctx.add_artifact(text, data=call, name="call-summary")
        await ctx.complete(f"Summary of {call['callId']} attached.")

    async def escalate_to_human(self, ctx: TaskContext, request: Request) -> None:
        """Open an escalation ticket for a call."""
        missing = []
        if request.call_id is None:
            missing.append(("callId", "the call id (e.g. call-1001)"))
        if request.reason is None:
            missing.append(("reason", "the reason for the escalation"))
        if missing:
            needs = " and ".join(text for _, text in missing)
            await ctx.ask_for_input(
                f"To escalate to a human I still need {needs}.",
                data={"skill": ESCALATE, "missing": [name for name, _ in missing]},
            )
            return
        assert request.call_id is not None
        assert request.reason is not None
        priority = request.priority or priority_of(request.reason)
        if priority not in PRIORITIES:
            await ctx.reject(
                f"The priority {priority!r} is not valid; use one of: {', '.join(PRIORITIES)}."
            )
            return
        call_id, reason, now = request.call_id, request.reason, iso(self.clock())

        await self._step(ctx, f"Looking up {call_id}…")
        await self._step(ctx, f"Assessing the priority ({priority})…")
        await self._step(ctx, f"Opening an escalation ticket for {call_id}…")
        seq = await self.desk(ctx).open_ticket(
            call_id, reason, priority, task_id=ctx.task_id, now=now
        )
        if seq is None:
            await ctx.fail(_unknown_call(call_id))
            return
        ticket = {
            "ticketId": f"esc-{seq:04d}",
            "callId": call_id,
            "reason": reason,
            "priority": priority,
            "status": "open",
        }
        await ctx.add_artifact(
            f"Escalation ticket {ticket['ticketId']} opened for {call_id} "
            f"(priority {priority}): {reason}",
            data=ticket,
            name="escalation-ticket",
        )
        await ctx.complete(
            f"A human will follow up on {call_id} (ticket {ticket['ticketId']})."
        )


def _unknown_call(call_id: str) -> str:
    return (
        f"No call with id {call_id!r} is on record: check the id "
        "(call ids look like call-1001)."
    )

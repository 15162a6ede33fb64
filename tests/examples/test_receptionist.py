"""The Receptionist example, driven in memory through the real client (asyncio and trio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client import Client, MemoryTransport
from accord.errors import InvalidParamsError
from accord.types import Message, Part, Role, Task, TaskState, to_builtins
from tests.helpers.examples import RECEPTIONIST_KEY, receptionist_app

pytestmark = [
    pytest.mark.anyio,
]

KEY_HEADER = {"X-API-Key": RECEPTIONIST_KEY}
PHONE = "+14155550123"
WINDOW = {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    app = receptionist_app(tmp_path / "accord.db", api_key=RECEPTIONIST_KEY)
    async with (
        httpx.AsyncClient(
            transport=MemoryTransport(app), base_url="http://agent"
        ) as http,
        await Client.connect(
            "http://agent", http=http, headers=KEY_HEADER
        ) as connected,
    ):
        yield connected


def data_message(data: Any, *, metadata: dict[str, Any] | None = None) -> Message:
    return Message(
        message_id=f"m-{id(data)}",
        role=Role.USER,
        parts=(Part(data=data, media_type="application/json"),),
        metadata=metadata,
    )


async def send(client: Client, message: Message | str, **kwargs: Any) -> Task:
    reply = await client.send_message(message, **kwargs)
    assert isinstance(reply, Task)
    return reply


def status_text(task: Task) -> str:
    assert task.status.message is not None
    return task.status.message.text


def artifact_data(task: Task, index: int = 0) -> Any:
    return next(p.data for p in task.artifacts[index].parts if p.kind == "data")


# --- schedule_callback ------------------------------------------------------------------


async def test_schedule_from_text(client: Client) -> None:
    task = await send(
        client,
        "Please schedule a callback to +1 415-555 0123 on 2026-12-01 14:00-15:00",
    )
    assert task.status.state is TaskState.COMPLETED
    booking = artifact_data(task)
    assert booking == {
        "bookingId": "cb-0001",
        "phone": PHONE,
        "window": WINDOW,
        "status": "confirmed",
    }
    assert task.artifacts[0].name == "callback-booking"
    assert "cb-0001" in status_text(task)


async def test_schedule_from_data(client: Client) -> None:
    task = await send(
        client,
        data_message({"skill": "schedule_callback", "phone": PHONE, "window": WINDOW}),
    )
    assert task.status.state is TaskState.COMPLETED
    assert artifact_data(task)["window"] == WINDOW


@pytest.mark.parametrize(
    "text",
    [
        "Callback to +14155550123 between 14:00 and 15:00 on 2026-12-01",
        "Call me back: +14155550123, 2026-12-01 from 14:00 to 15:00 UTC",
        "schedule +14155550123 2026-12-01T14:00Z to 2026-12-01T15:00Z",
        "schedule +14155550123 2026-12-01T15:00:00+01:00/2026-12-01T16:00:00+01:00",
        "book a callback to +14155550123 on 2026-12-1 14:00\u201315:00",
        "Schedule a callback to +14155550123 on 2026-12-01 at 14:00 until 15:00",
    ],
)
async def test_schedule_window_spellings(client: Client, text: str) -> None:
    task = await send(client, text)
    assert task.status.state is TaskState.COMPLETED, status_text(task)
    assert artifact_data(task)["window"] == WINDOW


@pytest.mark.parametrize(
    "text",
    [
        "tomorrow 14:00-15:00 UTC",
        "between 14:00 and 15:00 tomorrow",
        "Tomorrow from 14:00 to 15:00",
    ],
)
async def test_relative_day_in_a_follow_up(client: Client, text: str) -> None:
    first = await send(client, "Please schedule a callback to +1 415 555 0123")
    assert first.status.state is TaskState.INPUT_REQUIRED
    second = await send(client, text, task_id=first.id)
    assert second.status.state is TaskState.COMPLETED, status_text(second)
    # the test clock says 2026-11-20 09:00 UTC
    assert artifact_data(second)["window"] == {
        "start": "2026-11-21T14:00:00Z",
        "end": "2026-11-21T15:00:00Z",
    }


async def test_today_in_the_past_is_rejected(client: Client) -> None:
    task = await send(client, "Schedule a callback to +14155550123 today 08:00-08:30")
    assert task.status.state is TaskState.REJECTED
    assert "starts in the past" in status_text(task)


async def test_same_booking_twice_is_idempotent(client: Client) -> None:
    data = {"skill": "schedule_callback", "phone": PHONE, "window": WINDOW}
    first = await send(client, data_message(data))
    second = await send(client, data_message(dict(data)))
    assert artifact_data(first)["bookingId"] == artifact_data(second)["bookingId"]


async def test_missing_fields_are_gathered_across_turns(client: Client) -> None:
    first = await send(client, "I need a callback")
    assert first.status.state is TaskState.INPUT_REQUIRED
    assert status_text(first) == (
        "To schedule a callback I still need the phone number to call (e.g. "
        "+14155550123) and the time window for the callback (e.g. 2026-11-21 14:00-15:00)."
    )
    assert first.status.message is not None
    assert to_builtins(first.status.message.parts[1].data) == {
        "skill": "schedule_callback",
        "missing": ["phone", "window"],
    }
    second = await send(client, "+1 415 555 0123", task_id=first.id)
    assert second.status.state is TaskState.INPUT_REQUIRED
    assert "time window" in status_text(second)
    assert "phone" not in status_text(second)
    third = await send(client, "2026-12-01 14:00-15:00", task_id=first.id)
    assert third.status.state is TaskState.COMPLETED
    assert artifact_data(third)["phone"] == PHONE


async def test_follow_up_keeps_the_first_skill(client: Client) -> None:
    first = await send(client, "Schedule a callback on 2026-12-01 14:00-15:00")
    # "summary" in the follow-up must not switch the task to another skill
    second = await send(client, "+14155550123 (summary: VIP)", task_id=first.id)
    assert second.status.state is TaskState.COMPLETED
    assert artifact_data(second)["bookingId"].startswith("cb-")


@pytest.mark.parametrize(
    ("phone", "window", "expected"),
    [
        ("12345", WINDOW, "has 5 digits; a valid number has 8-15 digits"),
        ("+1234567890123456", WINDOW, "has 16 digits"),
        ("+1 415 CALL ME", WINDOW, "is not valid: use an optional + then 8-15 digits"),
        (
            PHONE,
            {"start": "2026-12-01T15:00:00Z", "end": "2026-12-01T14:00:00Z"},
            "is not after its start",
        ),
        (
            PHONE,
            {"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T14:00:00Z"},
            "is not after its start",
        ),
        (
            PHONE,
            {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T12:30:00Z"},
            "4.5 hours long; a callback window can be at most 4 hours",
        ),
        (
            PHONE,
            {"start": "2026-11-19T14:00:00Z", "end": "2026-11-19T15:00:00Z"},
            "starts in the past",
        ),
        (
            PHONE,
            {"start": "2027-01-05T14:00:00Z", "end": "2027-01-05T15:00:00Z"},
            "more than 30 days ahead",
        ),
        (
            PHONE,
            {"start": "tomorrow", "end": "later"},
            "'tomorrow' is not a valid date and time",
        ),
        (PHONE, "soon-ish", "The time window 'soon-ish' is not valid"),
    ],
)
async def test_invalid_values_are_rejected(
    client: Client, phone: str, window: Any, expected: str
) -> None:
    task = await send(
        client,
        data_message({"skill": "schedule_callback", "phone": phone, "window": window}),
    )
    assert task.status.state is TaskState.REJECTED
    assert expected in status_text(task)
    assert "e.g." in status_text(task)  # says what a valid value looks like
    assert not task.artifacts


async def test_a_window_of_the_wrong_type_breaks_the_skill_contract(
    client: Client,
) -> None:
    # The skill's input schema (the skill-contracts extension) refuses it before the
    # agent runs, naming the field.
    with pytest.raises(InvalidParamsError, match="window matches none") as caught:
        await send(
            client,
            data_message({"skill": "schedule_callback", "phone": PHONE, "window": 17}),
        )
    assert caught.value.field_violations == (
        ("message.parts[0].data.window", "matches none of the allowed shapes"),
    )


async def test_unreadable_window_text_is_rejected(client: Client) -> None:
    task = await send(client, "schedule a callback to +14155550123 at 14:00 sometime")
    assert task.status.state is TaskState.REJECTED
    assert "could not read a time window" in status_text(task)


async def test_progress_is_streamed_in_order(client: Client) -> None:
    states: list[tuple[str, str]] = []
    async with client.send_streaming_message(
        f"schedule a callback to {PHONE} on 2026-12-01 14:00-15:00"
    ) as stream:
        async for event in stream:
            if event.status_update is not None:
                status = event.status_update.status
                text = status.message.text if status.message is not None else ""
                states.append((status.state.name, text))
            elif event.artifact_update is not None:
                states.append(("ARTIFACT", event.artifact_update.artifact.name))
    assert states[:3] == [
        ("WORKING", "Checking availability…"),
        ("WORKING", "Reserving the slot…"),
        ("ARTIFACT", "callback-booking"),
    ]
    assert states[-1][0] == "COMPLETED"


# --- fetch_call_summary -------------------------------------------------------------------


async def test_summary_from_text(client: Client) -> None:
    task = await send(client, "Can I get a summary of call 1003?")
    assert task.status.state is TaskState.COMPLETED
    summary = artifact_data(task)
    assert summary["callId"] == "call-1003"
    assert summary["caller"] == "Priya Natarajan"
    assert summary["durationSeconds"] == 547
    assert summary["topics"] == ["billing", "refund"]
    text = task.artifacts[0].parts[0].text
    assert text is not None
    assert text.startswith("Call call-1003 from Priya Natarajan (+442079460321)")
    assert "9 min 7 s" in text


async def test_summary_from_data_and_metadata_skill(client: Client) -> None:
    by_data = await send(
        client, data_message({"skill": "fetch_call_summary", "callId": "1002"})
    )
    assert artifact_data(by_data)["callId"] == "call-1002"
    by_metadata = await send(
        client,
        data_message({"callId": "call-1001"}, metadata={"skill": "fetch_call_summary"}),
    )
    assert artifact_data(by_metadata)["callId"] == "call-1001"


async def test_summary_asks_for_the_call_id(client: Client) -> None:
    first = await send(client, "summarise a call for me")
    assert first.status.state is TaskState.INPUT_REQUIRED
    assert "call id" in status_text(first)
    second = await send(client, "call-1004", task_id=first.id)
    assert artifact_data(second)["caller"] == "Tom Becker"


async def test_unknown_call_fails(client: Client) -> None:
    task = await send(client, "summary of call-9999")
    assert task.status.state is TaskState.FAILED
    assert status_text(task) == (
        "No call with id 'call-9999' is on record: check the id (call ids look like call-1001)."
    )


# --- escalate_to_human --------------------------------------------------------------------


async def test_escalate_from_text(client: Client) -> None:
    task = await send(
        client, "Escalate call-1003 to a human because the caller was charged twice"
    )
    assert task.status.state is TaskState.COMPLETED
    ticket = artifact_data(task)
    assert ticket == {
        "ticketId": "esc-0001",
        "callId": "call-1003",
        "reason": "the caller was charged twice",
        "priority": "high",
        "status": "open",
    }
    assert task.artifacts[0].name == "escalation-ticket"


@pytest.mark.parametrize(
    ("reason", "given", "priority"),
    [
        ("emergency: gas smell", None, "urgent"),
        ("wants to talk about pricing", None, "normal"),
        ("no rush, whenever", None, "low"),
        ("not urgent: wants a brochure", None, "low"),
        ("wants to talk about pricing", "HIGH", "high"),
    ],
)
async def test_escalate_priority(
    client: Client, reason: str, given: str | None, priority: str
) -> None:
    data: dict[str, Any] = {
        "skill": "escalate_to_human",
        "callId": "call-1002",
        "reason": reason,
    }
    if given:
        data["priority"] = given
    task = await send(client, data_message(data))
    assert artifact_data(task)["priority"] == priority


async def test_escalate_bad_priority_is_rejected(client: Client) -> None:
    task = await send(
        client,
        data_message(
            {
                "skill": "escalate_to_human",
                "callId": "call-1002",
                "reason": "x",
                "priority": "meh",
            }
        ),
    )
    assert task.status.state is TaskState.REJECTED
    assert "low, normal, high, urgent" in status_text(task)


async def test_escalate_asks_for_the_reason(client: Client) -> None:
    first = await send(client, "Please escalate call-1005")
    assert first.status.state is TaskState.INPUT_REQUIRED
    assert (
        status_text(first)
        == "To escalate to a human I still need the reason for the escalation."
    )
    second = await send(
        client, "Installer never came; she wants a manager", task_id=first.id
    )
    assert second.status.state is TaskState.COMPLETED
    assert (
        artifact_data(second)["reason"] == "Installer never came; she wants a manager"
    )


async def test_escalate_unknown_call_fails(client: Client) -> None:
    task = await send(
        client,
        data_message(
            {"skill": "escalate_to_human", "callId": "call-77", "reason": "x"}
        ),
    )
    assert task.status.state is TaskState.FAILED
    assert "'call-77'" in status_text(task)


# --- choosing a skill ----------------------------------------------------------------------


async def test_unclear_request_lists_the_skills(client: Client) -> None:
    task = await send(client, "good morning")
    assert task.status.state is TaskState.INPUT_REQUIRED
    for skill in ("schedule_callback", "fetch_call_summary", "escalate_to_human"):
        assert skill in status_text(task)
    follow = await send(client, "a summary of call-1001 then", task_id=task.id)
    assert follow.status.state is TaskState.COMPLETED


async def test_unknown_skill_name(client: Client) -> None:
    task = await send(client, data_message({"skill": "order_pizza"}))
    assert task.status.state is TaskState.INPUT_REQUIRED
    assert status_text(task).startswith("I do not know the skill 'order_pizza'.")


async def test_card_declares_the_skills(client: Client) -> None:
    card = client.card
    assert card is not None
    assert card.name == "Receptionist"
    assert card.provider is not None
    assert card.capabilities.streaming is True
    for skill in card.skills:
        assert skill.name
        assert skill.description
        assert skill.tags
        assert skill.examples
        assert skill.input_modes
        assert skill.output_modes


async def test_bookings_persist_in_the_database(tmp_path: Path) -> None:
    db = tmp_path / "accord.db"
    data = {"skill": "schedule_callback", "phone": PHONE, "window": WINDOW}
    for expected in ("cb-0001", "cb-0002"):
        app = receptionist_app(db, api_key=RECEPTIONIST_KEY)
        async with (
            httpx.AsyncClient(
                transport=MemoryTransport(app), base_url="http://agent"
            ) as http,
            await Client.connect(
                "http://agent", http=http, headers=KEY_HEADER
            ) as client,
        ):
            task = await send(
                client, data_message({**data, "phone": PHONE[:-1] + expected[-1]})
            )
            assert artifact_data(task)["bookingId"] == expected


async def test_the_readme_walkthrough(client: Client) -> None:
    summary = await send(client, "Summarize call call-1001")
    assert artifact_data(summary)["callId"] == "call-1001"
    ticket = await send(client, "Escalate call call-1003 to a human: billing dispute")
    assert artifact_data(ticket)["reason"] == "billing dispute"
    assert artifact_data(ticket)["callId"] == "call-1003"

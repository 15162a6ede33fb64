"""Data minimisation rules: detectors, fields by path, text by category, the report."""

from __future__ import annotations

from typing import Any

import pytest

from accord.protocol.handshake import (
    DataNeeds,
    find,
    luhn_valid,
    minimise,
)
from accord.types import Message, Part, Role

NEEDS = DataNeeds(
    "schedule_callback",
    fields={"phone": "phone_number", "window.start": "time", "window.end": "time"},
    text=("phone_number",),
)


def _message(*parts: Part) -> Message:
    return Message(
        message_id="m",
        role=Role.USER,
        parts=parts,
        metadata={"skill": "schedule_callback"},
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("call +1 415 555 0123 now", [("phone_number", "+1 415 555 0123")]),
        ("mail ann.lee+x@mail.example.com", [("email", "ann.lee+x@mail.example.com")]),
        ("card 4111 1111 1111 1111.", [("card_number", "4111 1111 1111 1111")]),
        ("card 4111 1111 1111 1112.", []),  # not Luhn-valid, too long for a phone
        ("IBAN GB82 WEST 1234 5698 7654 32", [("iban", "GB82 WEST 1234 5698 7654 32")]),
        # Not mod-97 valid: no IBAN, but its digits still look like a phone number.
        ("IBAN GB83 WEST 1234 5698 7654 32", [("phone_number", "1234 5698 7654 32")]),
        ("on 2026-12-01 14:00-15:00 about call-1001", []),
        ("in 2 hours, room 12", []),
    ],
)
def test_detectors(text: str, found: list[tuple[str, str]]) -> None:
    assert [(f.category, text[f.start : f.end]) for f in find(text)] == found


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_structured_data_is_cut_to_the_declared_paths() -> None:
    data: dict[str, Any] = {
        "skill": "schedule_callback",
        "phone": "+14155550123",
        "window": {"start": "s", "end": "e", "tz": "UTC"},
        "email": "ann@example.com",
        "notes": {"card": "4111 1111 1111 1111"},
    }
    result = minimise(_message(Part(data=data)), NEEDS)
    assert result.message is not None
    assert result.message.parts[0].data == {
        "skill": "schedule_callback",
        "phone": "+14155550123",
        "window": {"start": "s", "end": "e"},
    }
    assert [w.to_json() for w in result.withheld] == [
        {
            "where": "message.parts[0].data.window.tz",
            "category": "undeclared",
            "action": "removed",
        },
        {
            "where": "message.parts[0].data.email",
            "category": "email",
            "action": "removed",
        },
        {
            "where": "message.parts[0].data.notes",
            "category": "undeclared",
            "action": "removed",
        },
    ]
    assert result.shared == {"phone_number", "time"}


def test_text_keeps_declared_categories_and_redacts_the_rest() -> None:
    text = "Call +1 415 555 0123; I am ann@example.com, card 4111 1111 1111 1111"
    result = minimise(_message(Part(text=text)), NEEDS)
    assert result.message is not None
    assert result.message.parts[0].text == (
        "Call +1 415 555 0123; I am [withheld: email], card [withheld: card_number]"
    )
    assert [(w.where, w.category, w.action) for w in result.withheld] == [
        ("message.parts[0].text", "email", "redacted"),
        ("message.parts[0].text", "card_number", "redacted"),
    ]
    assert result.shared == {"phone_number"}


def test_never_withholds_even_declared_categories() -> None:
    message = _message(Part(text="Call +1 415 555 0123"), Part(data={"phone": "+1415"}))
    result = minimise(message, NEEDS, never={"phone_number"})
    assert result.message is not None
    assert result.message.parts[0].text == "Call [withheld: phone_number]"
    assert result.message.parts[1].data == {}
    assert result.shared == frozenset()
    assert {w.action for w in result.withheld} == {"redacted", "removed"}


def test_files_and_other_skills_parts_are_removed_unless_declared() -> None:
    message = Message(
        message_id="m",
        role=Role.USER,
        parts=(
            Part(url="https://example.com/id.pdf"),
            Part(data={"skill": "other", "x": 1}),
            Part(data={"skill": "schedule_callback", "phone": "+1415"}),
        ),
    )
    result = minimise(message, NEEDS, whole=False)
    assert result.message is not None
    assert [p.data for p in result.message.parts] == [
        {"skill": "schedule_callback", "phone": "+1415"}
    ]
    assert [(w.where, w.category) for w in result.withheld] == [
        ("message.parts[0]", "file"),
        ("message.parts[1]", "undeclared"),
    ]
    files = DataNeeds("schedule_callback", fields={}, text=("file",))
    kept = minimise(_message(Part(url="https://example.com/a.pdf")), files)
    assert not kept.changed
    assert kept.shared == {"file"}


def test_nothing_left_and_nothing_withheld() -> None:
    gone = minimise(_message(Part(url="https://example.com/a.pdf")), NEEDS)
    assert gone.message is None
    message = _message(Part(data={"phone": "+1415"}))
    same = minimise(message, NEEDS)
    assert same.message is message
    assert not same.changed


def test_declarations_round_trip_and_are_checked() -> None:
    assert DataNeeds.from_declared("schedule_callback", NEEDS.declared()) == NEEDS
    with pytest.raises(ValueError, match="fields"):
        DataNeeds.from_declared("x", {"fields": ["phone"]})
    with pytest.raises(ValueError, match="category names"):
        DataNeeds.from_declared("x", {"fields": {}, "text": "phone"})
    with pytest.raises(ValueError, match="a path and a category"):
        DataNeeds("x", fields={"phone": ""})


def test_with_the_skill_in_the_metadata_parts_naming_another_skill_are_removed() -> (
    None
):
    message = _message(
        Part(data={"phone": "+1415"}), Part(data={"skill": "other", "phone": "+1"})
    )
    result = minimise(message, NEEDS)
    assert result.message is not None
    assert [p.data for p in result.message.parts] == [{"phone": "+1415"}]
    assert [(w.where, w.category) for w in result.withheld] == [
        ("message.parts[1]", "undeclared")
    ]

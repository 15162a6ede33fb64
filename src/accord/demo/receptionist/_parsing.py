"""Reading a request: the skill and its fields, from text and data parts of every turn.

Pure functions over the task's messages (no I/O): what the caller asked for
(:class:`Request`), gathered across the turns of a task, or :class:`Invalid` with
the text the task is REJECTED with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from accord.types import Message, Role

from ._card import ESCALATE, SCHEDULE, SKILL_IDS, SUMMARY

if TYPE_CHECKING:
    from accord.server import TaskContext

__all__ = [
    "EXAMPLE_PHONE",
    "Invalid",
    "Request",
    "gather",
    "iso",
    "normalise_phone",
    "priority_of",
]


class Invalid(Exception):
    """A value the caller gave cannot be used: the task is REJECTED with this text."""


_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_OFFSET = r"(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})"
_DATETIME = rf"{_DATE}(?:T|\s+(?:at\s+)?){_TIME}(?:\s?{_OFFSET})?"
# Hyphen, en dash, em dash, slash (ISO 8601 intervals), or a word.
_RANGE = r"\s*(?:-|\u2013|\u2014|/|\bto\b|\buntil\b|\band\b)\s*"
_WINDOW_PATTERNS = (
    # 2026-12-01T14:00Z to 2026-12-01T15:00Z (also ISO 8601 intervals: start/end)
    re.compile(rf"(?P<start>{_DATETIME}){_RANGE}(?P<end>{_DATETIME})", re.I),
    # 2026-12-01 14:00-15:00, 2026-12-01 from 14:00 to 15:00 UTC
    re.compile(
        rf"(?P<date>{_DATE})(?:T|\s+(?:from\s+|between\s+|at\s+)?)(?P<t1>{_TIME})"
        rf"{_RANGE}(?P<t2>{_TIME})(?:\s?(?P<tz>{_OFFSET}))?",
        re.I,
    ),
    # 2026-12-01 9-12 (whole hours, as the founding documents write a window)
    re.compile(
        rf"(?P<date>{_DATE})\s+(?:from\s+|between\s+)?(?P<t1>\d{{1,2}})"
        rf"(?:\s*-\s*|\s+to\s+)(?P<t2>\d{{1,2}})\b(?!:)(?:\s?(?P<tz>{_OFFSET}))?",
        re.I,
    ),
    # between 14:00 and 15:00 on 2026-12-01
    re.compile(
        rf"(?P<t1>{_TIME}){_RANGE}(?P<t2>{_TIME})(?:\s?(?P<tz>{_OFFSET}))?"
        rf"\s+(?:on\s+)?(?P<date>{_DATE})",
        re.I,
    ),
)
_MOMENT = re.compile(
    rf"(?P<date>{_DATE})(?:T|\s+(?:at\s+)?)(?P<time>{_TIME})(?:\s?(?P<tz>{_OFFSET}))?",
    re.I,
)
_TODAY = re.compile(r"\btoday\b", re.I)
_TOMORROW = re.compile(r"\btomorrow\b", re.I)
_DATE_OR_TIME = re.compile(rf"{_DATE}|{_TIME}")
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d[\d\s()-]*\d")
_PHONE_SHAPE = re.compile(r"\+?[\d\s()-]+")
_CALL_ID = re.compile(r"\bcall[-_\s#]?(\d{3,})\b", re.I)
_REASON_MARKER = re.compile(
    r"(?:\breason\s*[:=-]|\bbecause\b|\bsince\b)\s*(?P<reason>.+)", re.I | re.S
)
_FILLER = re.compile(
    r"^(?:[\s:;,.\-\u2013\u2014]+|to\s+(?:a\s+)?(?:human|person|manager|supervisor|someone)\b|please\b)+",
    re.I,
)
_KEYWORDS = {
    SCHEDULE: ("callback", "call back", "call me back", "schedule", "book"),
    SUMMARY: ("summary", "summarise", "summarize", "recap"),
    ESCALATE: ("escalate", "escalation", "human", "manager", "supervisor"),
}
_URGENT = ("urgent", "emergency", "asap", "immediately", "right now")
_HIGH = (
    "angry",
    "furious",
    "refund",
    "charged twice",
    "legal",
    "lawyer",
    "cancel",
    "complaint",
)
_LOW = ("no rush", "whenever", "low priority", "not urgent")

EXAMPLE_PHONE = "+14155550123"


def _data_dicts(message: Message) -> list[Mapping[str, Any]]:
    return [p.data for p in message.parts if isinstance(p.data, Mapping)]


def _field(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return None


def _skill_of(
    message: Message, metadata: Mapping[str, Any] | None = None
) -> str | None:
    """The skill a message asks for, or None when it does not say."""
    for data in _data_dicts(message):
        if "skill" in data:
            return str(data["skill"])
    for meta in (message.metadata, metadata):
        if meta and "skill" in meta:
            return str(meta["skill"])
    text = message.text.lower()
    hits = []
    for skill, words in _KEYWORDS.items():
        for word in words:
            at = text.find(word)
            if at >= 0:
                hits.append((at, skill))
    if hits:
        return min(hits)[1]
    for data in _data_dicts(message):  # no skill named: infer it from the fields
        if _field(data, "phone", "window", "start"):
            return SCHEDULE
        if _field(data, "callId", "call_id"):
            return ESCALATE if _field(data, "reason") else SUMMARY
    return None


def normalise_phone(raw: Any) -> str:
    text = str(raw).strip()
    digits = re.sub(r"\D", "", text)
    if (
        not isinstance(raw, str | int)
        or not _PHONE_SHAPE.fullmatch(text)
        or "+" in text[1:]
    ):
        raise Invalid(
            f"The phone number {text!r} is not valid: use an optional + then 8-15 digits "
            f"(spaces and dashes allowed), e.g. {EXAMPLE_PHONE} or +1 415-555-0123."
        )
    if not 8 <= len(digits) <= 15:
        raise Invalid(
            f"The phone number {text!r} has {len(digits)} digits; a valid number has "
            f"8-15 digits including the country code, e.g. {EXAMPLE_PHONE}."
        )
    return "+" + digits


def _parse_moment(text: str, example: str) -> datetime:
    """An aware UTC datetime from ISO 8601 or ``2026-12-01 14:00 [UTC|+02:00]``."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        match = _MOMENT.fullmatch(text)
        try:
            if match is None:
                raise ValueError(text)
            tz = match["tz"] or ""
            tz = "Z" if tz.upper() in ("UTC", "GMT") else tz
            moment = datetime.fromisoformat(
                f"{_pad_date(match['date'])}T{_pad(match['time'])}{tz}"
            )
        except ValueError:
            raise Invalid(
                f"The time {text!r} is not a valid date and time; use ISO 8601, "
                f"e.g. {example}."
            ) from None
    return (
        moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    )


def _pad(time: str) -> str:
    if ":" not in time:  # a whole hour
        time += ":00"
    return time if len(time.split(":")[0]) == 2 else "0" + time


def _pad_date(text: str) -> str:
    year, month, day = text.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _window_from_text(
    text: str, example: str, today: date
) -> tuple[datetime, datetime] | None:
    text = _absolute_days(text, today)
    for pattern in _WINDOW_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        if "start" in groups:
            return _parse_moment(match["start"], example), _parse_moment(
                match["end"], example
            )
        day, tz = _pad_date(match["date"]), match["tz"] or ""
        return (
            _parse_moment(f"{day}T{_pad(match['t1'])}{tz}", example),
            _parse_moment(f"{day}T{_pad(match['t2'])}{tz}", example),
        )
    if _DATE_OR_TIME.search(text):
        raise Invalid(
            f"I could not read a time window in {text.strip()!r}: give a date with a start "
            f"and end time, e.g. {example}, or ISO 8601 start/end times."
        )
    return None


def _absolute_days(text: str, today: date) -> str:
    """``today`` / ``tomorrow`` as ISO dates (relative to the agent's clock)."""
    text = _TODAY.sub(today.isoformat(), text)
    return _TOMORROW.sub((today + timedelta(days=1)).isoformat(), text)


def _window_from_data(
    value: Any, example: str, today: date
) -> tuple[datetime, datetime]:
    if isinstance(value, str):
        window = _window_from_text(value, example, today)
        if window is None:
            raise Invalid(
                f"The time window {value!r} is not valid; use e.g. {example}."
            )
        return window
    if isinstance(value, Mapping):
        start, end = value.get("start"), value.get("end")
        if isinstance(start, str) and isinstance(end, str):
            return _parse_moment(start, example), _parse_moment(end, example)
    raise Invalid(
        'The time window must be {"start": ..., "end": ...} with ISO 8601 times, or '
        f"text, e.g. {example!r}; got {json.dumps(value)}."
    )


def _strip_windows(text: str) -> str:
    for pattern in _WINDOW_PATTERNS:
        text = pattern.sub(" | ", text)
    return _DATE_OR_TIME.sub(" | ", text)


def _phone_from_text(text: str) -> str | None:
    # Dates, times and call ids hold digit runs too; blank them out first.
    # Runs of fewer than 3 digits ("in 2 hours") are not attempts at a phone number.
    for match in _PHONE_CANDIDATE.finditer(_CALL_ID.sub(" | ", _strip_windows(text))):
        if len(re.sub(r"\D", "", match.group())) >= 3:
            return match.group().strip()
    return None


def _call_id_from_text(text: str) -> str | None:
    match = _CALL_ID.search(text.lower().replace("call-call", "call"))
    return None if match is None else f"call-{match[1]}"


def _reason_from_text(text: str, *, follow_up: bool) -> str | None:
    marked = _REASON_MARKER.search(text)
    if marked:
        return marked["reason"].strip().rstrip(".") or None
    call = _CALL_ID.search(text)
    if call is not None:
        rest = _FILLER.sub("", text[call.end() :]).strip().rstrip(".")
        return rest or None
    if follow_up and text.strip():
        return text.strip().rstrip(".")
    return None


@dataclass
class Request:
    """What the caller asked for, gathered from every user message of the task."""

    skill: str | None = None
    phone: str | None = None
    window: tuple[datetime, datetime] | None = None
    call_id: str | None = None
    reason: str | None = None
    priority: str | None = None


def _user_messages(ctx: TaskContext) -> list[Message]:
    """The user messages of the task, oldest first, the incoming one last."""
    history = ctx.task.history if ctx.task is not None else ()
    messages = [m for m in history if m.role == Role.USER]
    if all(m.message_id != ctx.message.message_id for m in messages):
        messages.append(ctx.message)
    return messages


def gather(ctx: TaskContext, example: str, today: date) -> Request:
    """Read the request from all user messages; later messages override earlier ones.

    Raises:
        Invalid: a value given cannot be used.
    """
    messages = _user_messages(ctx)
    request = Request()
    for message in messages:  # the first message that names a known skill decides
        extra = (
            ctx.request_metadata
            if message.message_id == ctx.message.message_id
            else None
        )
        skill = _skill_of(message, extra)
        if skill in SKILL_IDS:
            request.skill = skill
            break
        request.skill = request.skill or skill
    for index, message in enumerate(messages):
        text = message.text
        for data in _data_dicts(message):
            if (
                phone := _field(data, "phone", "phoneNumber", "phone_number")
            ) is not None:
                request.phone = phone
            if (
                window := _field(data, "window", "time_window", "timeWindow")
            ) is not None:
                request.window = _window_from_data(window, example, today)
            elif _field(data, "start", "end") is not None:
                request.window = _window_from_data(
                    {"start": data.get("start"), "end": data.get("end")}, example, today
                )
            if (call_id := _field(data, "callId", "call_id")) is not None:
                request.call_id = _call_id_from_text(f"call-{call_id}") or str(call_id)
            if (reason := _field(data, "reason")) is not None:
                request.reason = str(reason).strip() or None
            if (priority := _field(data, "priority")) is not None:
                request.priority = str(priority).lower()
        if not text.strip():
            continue
        if request.skill == SCHEDULE:
            request.window = _window_from_text(text, example, today) or request.window
            request.phone = _phone_from_text(text) or request.phone
        else:
            request.call_id = _call_id_from_text(text) or request.call_id
            if request.skill == ESCALATE and request.reason is None:
                request.reason = _reason_from_text(text, follow_up=index > 0)
    return request


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def priority_of(reason: str) -> str:
    """The priority a reason implies: the first of urgent, high, low whose words occur."""
    lowered = reason.lower()
    calm = lowered.replace("not urgent", "")  # a negated "urgent" is not urgent
    for level, words, text in (
        ("urgent", _URGENT, calm),
        ("high", _HIGH, calm),
        ("low", _LOW, lowered),
    ):
        if any(word in text for word in words):
            return level
    return "normal"

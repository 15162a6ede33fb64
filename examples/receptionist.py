"""Receptionist: the agent of a voice-receptionist platform, called by partner agents.

A deterministic A2A agent (no LLM) with three skills:

* ``schedule_callback``: phone number + time window -> a confirmed callback booking.
  Missing fields are asked for (INPUT_REQUIRED) and gathered across the turns of the
  task; invalid values are REJECTED with what a valid value looks like. Streams its
  progress ("Checking availability…", "Reserving the slot…").
* ``fetch_call_summary``: call id -> the call's summary (text + structured data).
* ``escalate_to_human``: call id + reason -> an escalation ticket.

Input is text ("Schedule a callback to +1 415 555 0123 on 2026-12-01 14:00-15:00") or a
data part (``{"skill": "schedule_callback", "phone": "+14155550123", "window":
{"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}}``). The skill comes
from the data part's ``skill``, the message metadata's ``skill``, or keywords in the
text; a follow-up message on the same task keeps the skill of the task's first message.

State lives in SQLite, in the same file as the server's tasks (tables ``calls``,
``bookings`` and ``escalations``, created and seeded with demo calls ``call-1001`` to
``call-1005`` on first use), so bookings survive restarts. Times without an offset are
read as UTC.

Callers authenticate with an API key in the ``X-API-Key`` header (declared in the
card; :func:`create_app` is the example configuration). The keys come from
``ACCORD_API_KEYS`` (comma-separated; ``name=KEY`` names the caller, a bare ``KEY`` is
named after its hash), or, when that is unset, a demo key is generated once: its
SHA-256 is stored in the SQLite file (table ``api_keys``) and the key itself is
written to ``receptionist.key`` next to it (mode 0600), never printed. Each key sees
only the tasks it created.

Run it with ``accord serve`` (no argument), ``accord serve examples/receptionist.py``,
or ``python examples/receptionist.py [--port 8000] [--db accord.db]``; then
``export ACCORD_API_KEY=$(cat receptionist.key)`` for ``accord send``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from accord.server import A2AApp, Agent, TaskContext
from accord.server.auth import (
    ApiKey,
    ApiKeyRing,
    ApiKeyVerifier,
    generate_api_key,
    hash_api_key,
)
from accord.stores import SQLiteTaskStore
from accord.types import (
    AgentProvider,
    AgentSkill,
    APIKeySecurityScheme,
    Message,
    Role,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

__all__ = [
    "API_KEY_HEADER",
    "KEYS_ENV",
    "KEY_FILE",
    "MAX_DAYS_AHEAD",
    "MAX_WINDOW",
    "Receptionist",
    "create_agent",
    "create_app",
    "load_api_keys",
]

SCHEDULE = "schedule_callback"
SUMMARY = "fetch_call_summary"
ESCALATE = "escalate_to_human"

#: Longest callback window a caller may ask for: an agent on call for longer than
#: this cannot promise a callback "in the window" in any useful sense.
MAX_WINDOW = timedelta(hours=4)
#: How far ahead a callback can be booked; the staff rota is published 30 days out.
MAX_DAYS_AHEAD = 30
SKILL_IDS = (SCHEDULE, SUMMARY, ESCALATE)
PRIORITIES = ("low", "normal", "high", "urgent")

# --- the card -------------------------------------------------------------------------

SKILLS = (
    AgentSkill(
        id=SCHEDULE,
        name="Schedule a callback",
        description=(
            "Book a callback to a phone number (optional +, 8-15 digits) within a time "
            "window of at most 4 hours, up to 30 days ahead. The window is ISO 8601 "
            "start/end times or text such as '2026-12-01 14:00-15:00' or 'tomorrow "
            "14:00-15:00 UTC' (times without an offset are UTC). Returns the booking as "
            "structured data: bookingId, phone, window {start, end}, status."
        ),
        tags=("callback", "scheduling", "booking"),
        examples=(
            "Schedule a callback to +1 415 555 0123 tomorrow 14:00-15:00",
            '{"skill": "schedule_callback", "phone": "+14155550123", "window": '
            '{"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}}',
        ),
        input_modes=("text/plain", "application/json"),
        output_modes=("application/json", "text/plain"),
    ),
    AgentSkill(
        id=SUMMARY,
        name="Fetch a call summary",
        description="Summary of a recorded call: caller, duration, topics, outcome.",
        tags=("calls", "summary", "transcripts"),
        examples=(
            "Summary of call-1001",
            '{"skill": "fetch_call_summary", "callId": "call-1001"}',
        ),
        input_modes=("text/plain", "application/json"),
        output_modes=("text/plain", "application/json"),
    ),
    AgentSkill(
        id=ESCALATE,
        name="Escalate to a human",
        description=(
            "Open an escalation ticket for a call so that a human follows up; the "
            "priority (low, normal, high, urgent) is derived from the reason unless given."
        ),
        tags=("escalation", "support", "human-in-the-loop"),
        examples=(
            "Escalate call-1003 to a human because the caller disputes a charge",
            '{"skill": "escalate_to_human", "callId": "call-1003", "reason": "billing dispute"}',
        ),
        input_modes=("text/plain", "application/json"),
        output_modes=("text/plain", "application/json"),
    ),
)

_SKILL_LIST = (
    "I can: schedule_callback (book a callback: phone number + time window), "
    "fetch_call_summary (summary of a call, by call id such as call-1001), "
    "escalate_to_human (hand a call over to a person: call id + reason). "
    "Which one do you need?"
)

# --- authentication ---------------------------------------------------------------------

#: The header partner agents send their key in (declared in the card).
API_KEY_HEADER = "X-API-Key"
#: Environment variable with the accepted keys: ``KEY`` or ``name=KEY``, comma-separated.
KEYS_ENV = "ACCORD_API_KEYS"
#: The file, next to the SQLite file, the generated demo key is written to.
KEY_FILE = "receptionist.key"
#: The principal of the generated demo key.
DEMO_PRINCIPAL = "demo"

SECURITY_SCHEMES = {
    "apiKey": SecurityScheme(
        api_key_security_scheme=APIKeySecurityScheme(
            location="header",
            name=API_KEY_HEADER,
            description="Partner API key (ask the receptionist platform for one).",
        )
    )
}
SECURITY = (SecurityRequirement(schemes={"apiKey": StringList()}),)

_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL
);
"""


def _keys_from_env(value: str) -> ApiKeyRing:
    ring = ApiKeyRing()
    entries = [e.strip() for e in re.split(r"[,\s]+", value) if e.strip()]
    if not entries:
        raise ValueError(f"{KEYS_ENV} is set but lists no key")
    for entry in entries:
        name, sep, key = entry.partition("=")
        if not sep:
            name, key = "", entry
        try:
            digest = hash_api_key(key)
        except ValueError as exc:
            raise ValueError(f"{KEYS_ENV}: {exc}") from None
        principal = name or "key-" + digest.removeprefix("sha256:")[:8]
        ring.add(key, principal=principal)
    return ring


def _demo_key(db: str) -> ApiKeyRing:
    """The demo key: generated once, only its hash kept in ``db``, the key in a file."""
    key_path = Path(db).parent / KEY_FILE
    with closing(sqlite3.connect(db, timeout=5.0, isolation_level=None)) as conn:
        conn.executescript(_KEYS_SCHEMA)
        rows = conn.execute(
            "SELECT hash, principal, expires_at FROM api_keys"
        ).fetchall()
        stored = {row[0] for row in rows if row[2] is None}
        written = key_path.read_text().strip() if key_path.is_file() else ""
        if not (written and hash_api_key(written) in stored):
            key = generate_api_key()
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            # The previous demo key (its file is gone) stops working: rotation.
            conn.execute(
                "UPDATE api_keys SET expires_at = ? "
                "WHERE principal = ? AND expires_at IS NULL",
                (now, DEMO_PRINCIPAL),
            )
            conn.execute(
                "INSERT INTO api_keys (hash, principal, created_at) VALUES (?, ?, ?)",
                (hash_api_key(key), DEMO_PRINCIPAL, _iso(datetime.now(UTC))),
            )
            conn.execute("COMMIT")
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(key + "\n")
            print(f"API key written to {key_path}", flush=True)
            rows = conn.execute(
                "SELECT hash, principal, expires_at FROM api_keys"
            ).fetchall()
        else:
            print(f"Using the API key in {key_path}", flush=True)
    return ApiKeyRing(ApiKey(hash=h, principal=p, expires_at=e) for h, p, e in rows)


def load_api_keys(db: str, env: Mapping[str, str] = os.environ) -> ApiKeyRing:
    """The keys the Receptionist accepts: ``$ACCORD_API_KEYS``, else the demo key.

    Raises:
        ValueError: ``ACCORD_API_KEYS`` lists no key or a key that is too short.
    """
    value = env.get(KEYS_ENV)
    if value is not None:
        return _keys_from_env(value)
    return _demo_key(db)


# --- demo data ------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    phone TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_seconds INTEGER NOT NULL,
    transcript TEXT NOT NULL,
    summary TEXT NOT NULL,
    topics TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bookings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    phone TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS escalations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL REFERENCES calls (id),
    reason TEXT NOT NULL,
    priority TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

# (id, caller, phone, started_at, seconds, transcript, summary, topics)
_CALLS = (
    (
        "call-1001",
        "Dana Whitfield",
        "+14155550123",
        "2026-11-02T09:14:00Z",
        312,
        "Caller: My dishwasher is leaking again. | Agent: I can book a technician. "
        "| Caller: Thursday morning works.",
        "Dana Whitfield reported a leaking dishwasher (second time); a technician "
        "visit was booked for Thursday morning.",
        ["repair", "appointment"],
    ),
    (
        "call-1002",
        "Marco Ruiz",
        "+34911234567",
        "2026-11-03T15:40:00Z",
        95,
        "Caller: What are your opening hours on Sunday? | Agent: 10:00 to 16:00.",
        "Marco Ruiz asked about Sunday opening hours (10:00-16:00); no follow-up needed.",
        ["opening hours"],
    ),
    (
        "call-1003",
        "Priya Natarajan",
        "+442079460321",
        "2026-11-04T11:02:00Z",
        547,
        "Caller: I was charged twice for my subscription. | Agent: I see two charges. "
        "| Caller: I want a refund today.",
        "Priya Natarajan was charged twice for her subscription and asked for a refund "
        "the same day; the agent confirmed the duplicate charge.",
        ["billing", "refund"],
    ),
    (
        "call-1004",
        "Tom Becker",
        "+4930901820",
        "2026-11-05T17:25:00Z",
        188,
        "Caller: Can I move my delivery to next week? | Agent: Done, Tuesday.",
        "Tom Becker moved his delivery to next Tuesday.",
        ["delivery", "reschedule"],
    ),
    (
        "call-1005",
        "Aiko Tanaka",
        "+81312345678",
        "2026-11-06T08:50:00Z",
        421,
        "Caller: The installer never showed up and nobody called. | Agent: I am sorry. "
        "| Caller: I need a manager to call me.",
        "Aiko Tanaka's installation appointment was missed without notice; she asked "
        "for a manager to call her back.",
        ["complaint", "installation"],
    ),
)


class _Database:
    """The receptionist's tables, via stdlib ``sqlite3`` in worker threads.

    Each operation opens its own connection (``sqlite3`` blocks, so it runs through
    ``anyio.to_thread``); SQLite's file locking serialises writers, including the task
    store's. ``":memory:"`` keeps one connection for the life of the object instead.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._ready = False
        self._lock = threading.Lock()
        self._memory = (
            sqlite3.connect(":memory:", check_same_thread=False)
            if path == ":memory:"
            else None
        )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._memory is not None:
            with self._lock:
                yield self._memory
            return
        with closing(
            sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        ) as conn:
            yield conn

    def _run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._connect() as conn:
            conn.isolation_level = None
            if not self._ready:
                conn.executescript(_SCHEMA)
                conn.executemany(
                    "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*row[:7], json.dumps(row[7])) for row in _CALLS],
                )
                self._ready = True
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    async def run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await anyio.to_thread.run_sync(self._run, fn)


# --- reading the request ------------------------------------------------------------------


class _Invalid(Exception):
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

_EXAMPLE_PHONE = "+14155550123"


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


def _normalise_phone(raw: Any) -> str:
    text = str(raw).strip()
    digits = re.sub(r"\D", "", text)
    if (
        not isinstance(raw, str | int)
        or not _PHONE_SHAPE.fullmatch(text)
        or "+" in text[1:]
    ):
        raise _Invalid(
            f"The phone number {text!r} is not valid: use an optional + then 8-15 digits "
            f"(spaces and dashes allowed), e.g. {_EXAMPLE_PHONE} or +1 415-555-0123."
        )
    if not 8 <= len(digits) <= 15:
        raise _Invalid(
            f"The phone number {text!r} has {len(digits)} digits; a valid number has "
            f"8-15 digits including the country code, e.g. {_EXAMPLE_PHONE}."
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
            raise _Invalid(
                f"The time {text!r} is not a valid date and time; use ISO 8601, "
                f"e.g. {example}."
            ) from None
    return (
        moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    )


def _pad(time: str) -> str:
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
        raise _Invalid(
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
            raise _Invalid(
                f"The time window {value!r} is not valid; use e.g. {example}."
            )
        return window
    if isinstance(value, Mapping):
        start, end = value.get("start"), value.get("end")
        if isinstance(start, str) and isinstance(end, str):
            return _parse_moment(start, example), _parse_moment(end, example)
    raise _Invalid(
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
class _Request:
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


def _gather(ctx: TaskContext, example: str, today: date) -> _Request:
    """Read the request from all user messages; later messages override earlier ones.

    Raises:
        _Invalid: a value given cannot be used.
    """
    messages = _user_messages(ctx)
    request = _Request()
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
            if (window := _field(data, "window")) is not None:
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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _priority(reason: str) -> str:
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


# --- the agent --------------------------------------------------------------------------

#: How long a simulated step takes: seconds, or a coroutine function to await.
Pause = float | Callable[[], Awaitable[None]]


class Receptionist:
    """The behaviour of the agent; :func:`create_agent` wraps it in an :class:`Agent`.

    Args:
        db: SQLite file holding the receptionist's tables (the server's task file).
        clock: returns the current time (aware); injectable for tests.
        pause: seconds of each simulated step of ``schedule_callback``, or a coroutine
            function awaited for each step instead (tests pass a gate).
    """

    def __init__(
        self,
        db: str,
        *,
        clock: Callable[[], datetime] | None = None,
        pause: Pause = 0.05,
    ) -> None:
        self.db = _Database(db)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.pause = pause

    async def _step(self) -> None:
        """One simulated step of work (see ``pause``)."""
        if callable(self.pause):
            await self.pause()
        else:
            await anyio.sleep(self.pause)

    def _example_window(self) -> str:
        day = (self.clock() + timedelta(days=1)).date().isoformat()
        return f"{day} 14:00-15:00"

    async def __call__(self, ctx: TaskContext) -> None:
        try:
            request = _gather(ctx, self._example_window(), self.clock().date())
        except _Invalid as invalid:
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
                unknown + _SKILL_LIST, data={"skills": [skill.id for skill in SKILLS]}
            )

    async def schedule_callback(self, ctx: TaskContext, request: _Request) -> None:
        """Validate, then book the callback, streaming progress on the way."""
        example = self._example_window()
        missing = []
        if request.phone is None:
            missing.append(
                ("phone", f"the phone number to call (e.g. {_EXAMPLE_PHONE})")
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
            phone = _normalise_phone(request.phone)
            start, end = request.window
            self._check_window(start, end, example)
        except _Invalid as invalid:
            await ctx.reject(str(invalid))
            return

        await ctx.working("Checking availability…")
        await self._step()
        await ctx.working("Reserving the slot…")
        await self._step()
        now = _iso(self.clock())

        def book(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT seq FROM bookings WHERE phone = ? AND window_start = ? "
                "AND window_end = ? AND status = 'confirmed'",
                (phone, _iso(start), _iso(end)),
            ).fetchone()
            if row is not None:  # the same request again (a retry): same booking
                return int(row[0])
            cursor = conn.execute(
                "INSERT INTO bookings (phone, window_start, window_end, status, task_id, "
                "created_at) VALUES (?, ?, ?, 'confirmed', ?, ?)",
                (phone, _iso(start), _iso(end), ctx.task_id, now),
            )
            return int(cursor.lastrowid or 0)

        booking_id = f"cb-{await self.db.run(book):04d}"
        booking = {
            "bookingId": booking_id,
            "phone": phone,
            "window": {"start": _iso(start), "end": _iso(end)},
            "status": "confirmed",
        }
        await ctx.add_artifact(data=booking, name="callback-booking")
        await ctx.complete(
            f"Callback {booking_id} confirmed: we will call {phone} between "
            f"{_iso(start)} and {_iso(end)}."
        )

    def _check_window(self, start: datetime, end: datetime, example: str) -> None:
        now = self.clock()
        if end <= start:
            raise _Invalid(
                f"The time window ends at {_iso(end)}, which is not after its start "
                f"({_iso(start)}): the end must be later than the start, e.g. {example}."
            )
        if end - start > MAX_WINDOW:
            hours = (end - start).total_seconds() / 3600
            raise _Invalid(
                f"The time window is {hours:g} hours long; a callback window can be at "
                f"most {MAX_WINDOW.total_seconds() / 3600:g} hours, e.g. {example}."
            )
        if start < now:
            raise _Invalid(
                f"The time window starts in the past ({_iso(start)}; it is now "
                f"{_iso(now)}): choose a future window, e.g. {example}."
            )
        if start > now + timedelta(days=MAX_DAYS_AHEAD):
            raise _Invalid(
                f"The time window starts {_iso(start)}, more than {MAX_DAYS_AHEAD} days "
                f"ahead; choose a window before {_iso(now + timedelta(days=MAX_DAYS_AHEAD))}, "
                f"e.g. {example}."
            )

    async def _call(self, call_id: str) -> dict[str, Any] | None:
        def read(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row = conn.execute(
                "SELECT id, caller, phone, started_at, duration_seconds, summary, topics "
                "FROM calls WHERE id = ?",
                (call_id,),
            ).fetchone()
            return None if row is None else tuple(row)

        row = await self.db.run(read)
        if row is None:
            return None
        keys = (
            "callId",
            "caller",
            "phone",
            "startedAt",
            "durationSeconds",
            "summary",
            "topics",
        )
        call = dict(zip(keys, row, strict=True))
        call["topics"] = json.loads(call["topics"])
        return call

    async def fetch_call_summary(self, ctx: TaskContext, request: _Request) -> None:
        """Return the summary of a recorded call."""
        if request.call_id is None:
            await ctx.ask_for_input(
                "Which call should I summarise? Give its call id, e.g. call-1001.",
                data={"skill": SUMMARY, "missing": ["callId"]},
            )
            return
        await ctx.working(f"Looking up {request.call_id}…")
        call = await self._call(request.call_id)
        if call is None:
            await ctx.fail(_unknown_call(request.call_id))
            return
        minutes, seconds = divmod(call["durationSeconds"], 60)
        text = (
            f"Call {call['callId']} from {call['caller']} ({call['phone']}), "
            f"{call['startedAt']}, {minutes} min {seconds} s: {call['summary']}"
        )
        await ctx.add_artifact(text, data=call, name="call-summary")
        await ctx.complete(f"Summary of {call['callId']} attached.")

    async def escalate_to_human(self, ctx: TaskContext, request: _Request) -> None:
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
        priority = request.priority or _priority(request.reason)
        if priority not in PRIORITIES:
            await ctx.reject(
                f"The priority {priority!r} is not valid; use one of: {', '.join(PRIORITIES)}."
            )
            return
        call_id, reason, now = request.call_id, request.reason, _iso(self.clock())

        def open_ticket(conn: sqlite3.Connection) -> int | None:
            if (
                conn.execute("SELECT 1 FROM calls WHERE id = ?", (call_id,)).fetchone()
                is None
            ):
                return None
            cursor = conn.execute(
                "INSERT INTO escalations (call_id, reason, priority, task_id, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (call_id, reason, priority, ctx.task_id, now),
            )
            return int(cursor.lastrowid or 0)

        await ctx.working(f"Opening an escalation ticket for {call_id}…")
        seq = await self.db.run(open_ticket)
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


def create_agent(
    db: str,
    *,
    clock: Callable[[], datetime] | None = None,
    pause: Pause = 0.05,
    secured: bool = True,
) -> Agent:
    """The Receptionist agent, keeping its bookings in the SQLite file ``db``.

    Args:
        db: path of the SQLite file (the same file the server's task store uses).
        clock: returns the current aware time; windows are validated against it.
        pause: seconds each simulated step of ``schedule_callback`` takes, or a
            coroutine function awaited for each step instead.
        secured: declare (and so require) the ``X-API-Key`` API key; serve the
            agent with an API-key verifier, as :func:`create_app` does.
    """
    receptionist = Receptionist(str(db), clock=clock, pause=pause)
    return Agent(
        receptionist,
        name="Receptionist",
        description=(
            "Voice-receptionist desk for partner agents: books callbacks, summarises "
            "recorded calls, and escalates calls to a human."
        ),
        version="1.0.0",
        skills=SKILLS,
        provider=AgentProvider(
            organization="Accord examples", url="https://example.com/receptionist"
        ),
        streaming=True,
        security_schemes=SECURITY_SCHEMES if secured else None,
        security_requirements=SECURITY if secured else (),
    )


def create_app(
    db: str,
    *,
    keys: ApiKeyRing | None = None,
    clock: Callable[[], datetime] | None = None,
    pause: Pause = 0.05,
) -> A2AApp:
    """The example configuration: the Receptionist, API keys required, tasks in ``db``.

    Args:
        db: the SQLite file for tasks, bookings and (demo) key hashes.
        keys: the accepted keys; default :func:`load_api_keys` (``$ACCORD_API_KEYS``
            or the generated demo key).
        clock, pause: as for :func:`create_agent`.
    """
    db = str(db)
    ring = keys if keys is not None else load_api_keys(db)
    return A2AApp(
        create_agent(db, clock=clock, pause=pause),
        store=SQLiteTaskStore(db),
        auth={"apiKey": ApiKeyVerifier(ring)},
    )


if __name__ == "__main__":
    from accord.cli.main import main

    sys.exit(main(["serve", f"{__file__}:create_app", *sys.argv[1:]]))

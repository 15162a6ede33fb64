"""What the Receptionist's card says: its skills, limits and security scheme."""

from __future__ import annotations

from datetime import timedelta

from accord.types import (
    AgentSkill,
    APIKeySecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

__all__ = [
    "API_KEY_HEADER",
    "ESCALATE",
    "MAX_DAYS_AHEAD",
    "MAX_WINDOW",
    "PRIORITIES",
    "SCHEDULE",
    "SECURITY",
    "SECURITY_SCHEMES",
    "SKILLS",
    "SKILL_IDS",
    "SKILL_LIST",
    "SUMMARY",
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

SKILL_LIST = (
    "I can: schedule_callback (book a callback: phone number + time window), "
    "fetch_call_summary (summary of a call, by call id such as call-1001), "
    "escalate_to_human (hand a call over to a person: call id + reason). "
    "Which one do you need?"
)

#: The header partner agents send their key in (declared in the card).
API_KEY_HEADER = "X-API-Key"

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

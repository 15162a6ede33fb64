"""The Receptionist's skill contracts (input and output JSON Schemas) and data needs.

Declared in the card (the skill-contracts extension) and checked by the server before
the agent runs, so a data part with a wrong type (a phone number sent as a number) is
an invalid-params error naming the field. Fields stay optional: a missing one is asked
for (INPUT_REQUIRED), as with text. They also drive the founding documents' manifest
(:class:`~accord.server.handshake.FoundingSurface`).

:data:`DATA_NEEDS` says which fields carry which category of data (the data
minimisation extension): the server strips anything else before the agent or the
store sees it, and an Accord caller cuts its message down to it before sending.
"""

from __future__ import annotations

from typing import Any

from accord.protocol.handshake import DataNeeds, SkillContract

from ._card import ESCALATE, PRIORITIES, SCHEDULE, SUMMARY

__all__ = ["CONTRACTS", "DATA_NEEDS"]

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
_MOMENT: dict[str, Any] = {
    "type": "string",
    "maxLength": 64,
    "description": "ISO 8601 time",
}
_WINDOW: dict[str, Any] = {
    "anyOf": [
        {**_TEXT, "description": "e.g. 'tomorrow 9-12' or '2026-12-01 14:00-15:00'"},
        {
            "type": "object",
            "required": ["start", "end"],
            "properties": {"start": _MOMENT, "end": _MOMENT},
            "additionalProperties": False,
        },
    ]
}
_PHONE: dict[str, Any] = {
    "type": "string",
    "maxLength": 64,
    "description": "optional + then 8-15 digits",
}
_CALL_ID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64}

CONTRACTS = (
    SkillContract(
        SCHEDULE,
        input_schema={
            "type": "object",
            "properties": {
                "phone": _PHONE,
                "phoneNumber": _PHONE,
                "phone_number": _PHONE,
                "window": _WINDOW,
                "time_window": _WINDOW,
                "timeWindow": _WINDOW,
                "start": _MOMENT,
                "end": _MOMENT,
            },
        },
        output_schema={
            "type": "object",
            "required": ["bookingId", "phone", "window", "status"],
            "properties": {
                "bookingId": {"type": "string"},
                "phone": {"type": "string"},
                "window": _WINDOW["anyOf"][1],
                "status": {"type": "string"},
            },
        },
    ),
    SkillContract(
        SUMMARY,
        input_schema={
            "type": "object",
            "properties": {"callId": _CALL_ID, "call_id": _CALL_ID},
        },
        output_schema={"type": "object", "properties": {"callId": {"type": "string"}}},
    ),
    SkillContract(
        ESCALATE,
        input_schema={
            "type": "object",
            "properties": {
                "callId": _CALL_ID,
                "call_id": _CALL_ID,
                "reason": {"type": "string", "maxLength": 2000},
                "priority": {
                    "type": "string",
                    "maxLength": 20,
                    "description": "/".join(PRIORITIES),
                },
            },
        },
        output_schema={
            "type": "object",
            "properties": {"ticketId": {"type": "string"}},
        },
    ),
)

_PHONE_NUMBER = "phone_number"
_TIME_WINDOW = "time_window"
_CALL = "call_id"

DATA_NEEDS = (
    DataNeeds(
        SCHEDULE,
        fields={
            "phone": _PHONE_NUMBER,
            "phoneNumber": _PHONE_NUMBER,
            "phone_number": _PHONE_NUMBER,
            "window": _TIME_WINDOW,
            "time_window": _TIME_WINDOW,
            "timeWindow": _TIME_WINDOW,
            "start": _TIME_WINDOW,
            "end": _TIME_WINDOW,
        },
        text=(_PHONE_NUMBER,),
    ),
    DataNeeds(SUMMARY, fields={"callId": _CALL, "call_id": _CALL}),
    DataNeeds(
        ESCALATE,
        fields={
            "callId": _CALL,
            "call_id": _CALL,
            "reason": "free_text",
            "priority": "priority",
        },
    ),
)

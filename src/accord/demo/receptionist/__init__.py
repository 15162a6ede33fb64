"""Receptionist: the agent of a voice-receptionist platform, called by partner agents.

The demo agent that ships with Accord: ``accord serve`` (no argument) serves
:func:`create_app`. A deterministic A2A agent (no LLM) with three skills:

* ``schedule_callback``: phone number + time window -> a confirmed callback booking.
  Missing fields are asked for (INPUT_REQUIRED) and gathered across the turns of the
  task; invalid values are REJECTED with what a valid value looks like.
* ``fetch_call_summary``: call id -> the call's summary (text + structured data).
* ``escalate_to_human``: call id + reason -> an escalation ticket.

Each skill streams its progress ("Checking availability…", "Reserving the slot…"), one
WORKING update per step, at a pace of 0.5 s per step (``$ACCORD_DEMO_PACE`` or the
``pace`` argument; 0 for none), so that ``accord send --stream`` shows it live.

Input is text ("Schedule a callback to +1 415 555 0123 on 2026-12-01 14:00-15:00") or a
data part (``{"skill": "schedule_callback", "phone": "+14155550123", "window":
{"start": "2026-12-01T14:00:00Z", "end": "2026-12-01T15:00:00Z"}}``). The skill comes
from the data part's ``skill``, the message metadata's ``skill``, or keywords in the
text; a follow-up message on the same task keeps the skill of the task's first message.

State lives in SQLite, in the same file as the server's tasks (tables ``calls``,
``bookings`` and ``escalations``, created and seeded with demo calls ``call-1001`` to
``call-1005`` on first use), so bookings survive restarts. The file is created
owner-only (0600). Times without an offset are read as UTC.

Callers authenticate with an API key in the ``X-API-Key`` header (declared in the
card; :func:`create_app` is the example configuration). The keys come from
``ACCORD_API_KEYS`` (comma-separated; ``name=KEY`` names the caller, a bare ``KEY`` is
named after its hash), or, when that is unset, a demo key is generated once: its
SHA-256 is stored in the SQLite file (table ``api_keys``) and the key itself is
written to ``receptionist.key`` next to it (created with mode 0600), never printed.
Each key sees only the tasks it created.

A callback booked for tomorrow is a long task, so partners may register a webhook
instead of holding a stream (push notifications, spec §4.3): the card declares them
and every event of the task is delivered to each webhook. The webhooks' credentials
are sealed at rest with the key in ``DB.push-key`` (made owner-only on first start);
webhooks must be HTTPS on public addresses unless ``accord serve --push-allow`` names
the host (an internal receiver, a test).

Run it with ``accord serve`` (no argument) or ``accord serve accord.demo.receptionist``
(``--port 8000 --db accord.db`` are the defaults); then
``export ACCORD_API_KEY=$(cat receptionist.key)`` for ``accord send``.

Its skills declare input and output JSON Schemas and the data they need
(``_contracts``; the skill-contracts and data-minimisation extensions of
:mod:`accord.server.handshake`): :func:`create_app` strips data outside the needs
from messages that name a skill, then checks their data parts against the schemas.
Partners may negotiate first (``_negotiation``): a callback window outside business
hours (Monday to Friday 09:00-17:00 UTC) is countered with the nearest open window.
The card declares its guarantees (``_guarantees``: latency and price per skill, US
residency) and the latency observed beside them.

Modules: ``_card`` (skills, limits, security scheme), ``_contracts`` (schemas, data
needs), ``_negotiation`` (the policy), ``_guarantees``, ``_parsing`` (reading a
request from the task's messages), ``_store`` (the demo tables), ``_desk`` (bookings,
calls, tickets), ``_keys`` (API keys), ``_skills`` (the behaviour); with the mcp
extra, ``with_mcp`` (the same agent, its desk behind the MCP server ``_mcp_server``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.server import A2AApp, Agent
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.server.handshake import (
    DataMinimisation,
    GuaranteeMonitor,
    Negotiation,
    SkillContracts,
)
from accord.stores import SQLiteTaskStore
from accord.types import AgentProvider

from ._card import (
    API_KEY_HEADER,
    MAX_DAYS_AHEAD,
    MAX_WINDOW,
    SECURITY,
    SECURITY_SCHEMES,
    SKILLS,
)
from ._contracts import CONTRACTS, DATA_NEEDS
from ._guarantees import COMPLIANCE, GUARANTEES, PRICES, RESIDENCY
from ._keys import KEY_FILE, KEYS_ENV, load_api_keys
from ._negotiation import CLOSES, OPENS, receptionist_policy
from ._skills import DEFAULT_PACE, PACE_ENV, Pace, Receptionist, pace_from_env

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from accord.server import Interceptor, TaskContext

    from ._desk import Desk

__all__ = [
    "API_KEY_HEADER",
    "CLOSES",
    "COMPLIANCE",
    "CONTRACTS",
    "DATA_NEEDS",
    "DEFAULT_PACE",
    "GUARANTEES",
    "KEYS_ENV",
    "KEY_FILE",
    "MAX_DAYS_AHEAD",
    "MAX_WINDOW",
    "OPENS",
    "PACE_ENV",
    "PRICES",
    "RESIDENCY",
    "SECURITY",
    "SECURITY_SCHEMES",
    "SKILLS",
    "Pace",
    "Receptionist",
    "create_agent",
    "create_app",
    "load_api_keys",
    "pace_from_env",
    "receptionist_policy",
]


def create_agent(
    db: str,
    *,
    clock: Callable[[], datetime] | None = None,
    pace: Pace | None = None,
    secured: bool = True,
    desk: Callable[[TaskContext], Desk] | None = None,
    negotiation: Negotiation | None = None,
) -> Agent:
    """The Receptionist agent, keeping its bookings in the SQLite file ``db``.

    Args:
        db: path of the SQLite file (the same file the server's task store uses).
        clock: returns the current aware time; windows are validated against it.
        pace: seconds each progress step takes (:class:`Receptionist`); default
            ``$ACCORD_DEMO_PACE``, else 0.5.
        secured: declare (and so require) the ``X-API-Key`` API key; serve the
            agent with an API-key verifier, as :func:`create_app` does.
        desk: where each execution keeps its records (default: the SQLite file;
            :mod:`~accord.demo.receptionist.with_mcp`: an MCP server's tools).
        negotiation: answer proposals with it before any work
            (:func:`receptionist_policy`); serve the agent with it as an interceptor.
    """
    receptionist = Receptionist(str(db), clock=clock, pace=pace, desk=desk)
    return Agent(
        receptionist if negotiation is None else negotiation.wrap(receptionist),
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
        push_notifications=True,
        security_schemes=SECURITY_SCHEMES if secured else None,
        security_requirements=SECURITY if secured else (),
    )


def create_app(
    db: str,
    *,
    keys: ApiKeyRing | None = None,
    clock: Callable[[], datetime] | None = None,
    pace: Pace | None = None,
    desk: Callable[[TaskContext], Desk] | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> A2AApp:
    """The example configuration: the Receptionist, API keys required, tasks in ``db``.

    Args:
        db: the SQLite file for tasks, bookings and (demo) key hashes.
        keys: the accepted keys; default :func:`load_api_keys` (``$ACCORD_API_KEYS``
            or the generated demo key).
        clock, pace, desk: as for :func:`create_agent`.
        interceptors: more interceptors, after the handshake's four (``with_mcp``:
            the MCP sessions).
    """
    db = str(db)
    ring = keys if keys is not None else load_api_keys(db)
    negotiation = Negotiation(receptionist_policy(clock))
    return A2AApp(
        create_agent(db, clock=clock, pace=pace, desk=desk, negotiation=negotiation),
        store=SQLiteTaskStore(db),
        auth={"apiKey": ApiKeyVerifier(ring)},
        interceptors=[
            negotiation,
            DataMinimisation(DATA_NEEDS),
            SkillContracts(CONTRACTS),
            GuaranteeMonitor(GUARANTEES),
            *interceptors,
        ],
    )

"""Conformance agent: the system under test for the official A2A conformance suite.

The A2A Technology Compatibility Kit (`a2aproject/a2a-tck`, branch ``1.0-dev``, which
targets A2A v1.0.0) tells the agent under test what to do through the prefix of
``message.messageId``. This agent implements those behaviours, so the suite can be
pointed at Accord over every binding Accord serves (JSON-RPC and HTTP+JSON, and gRPC
with ``--grpc-port``; each is declared in the card, with protocol version ``1.0``). The legacy v0.3 suite (branch
``0.3.x``) talks to the same JSON-RPC endpoint without ``A2A-Version``, which Accord
serves as v0.3 (see the table below for what such messages do); it finds the endpoint
by the card's v0.3 members, which ``TCK_V03_CARD=1`` adds (off by default: the v1.0
suite validates the card against a schema that forbids them).

Run it::

    accord serve examples/conformance_agent.py --port 9999 --grpc-port 0
    # then, in a checkout of a2aproject/a2a-tck (branch 1.0-dev):
    ./run_tck.py --sut-host http://localhost:9999

The suite reads ``/.well-known/agent-card.json`` and tests each declared interface. Set
``TCK_STREAMING_TIMEOUT`` to the same value for both processes when you change it.

With ``TCK_REQUIRED_EXTENSION=1`` the card also declares the extension
``urn:a2a:tck:required-extension`` with ``required: true``, and Accord then refuses
every message that does not activate it (ExtensionSupportRequiredError, spec §3.3.4):
that is what the suite's CORE-CAP-004 tests check, but the suite's other tests never
send ``A2A-Extensions``, so run those tests alone in that mode (``-- -k
CapabilityExtensionRequired``; docs/how-to/conformance.md).

The card declares ``streaming`` and ``extendedAgentCard``. The extended card
(GetExtendedAgentCard) is the same agent with one more skill, ``tck-extended``, and a
description saying it is the authenticated view; it is served at the same interfaces
as the public card. The spec makes the extended card require authentication (§13.3),
so the card declares one API-key scheme (header ``X-API-Key``) without requiring it for
anything else: every other operation stays anonymous, as the suite expects, and
GetExtendedAgentCard needs the key in ``TCK_API_KEY`` (default ``accord-tck-extended-card``;
configure the suite to send it). The card declares push notifications: the suite's
webhook receiver listens on ``http://localhost:PORT``, which the egress allow-list
admits (``TCK_PUSH_ALLOW``, comma-separated hosts and networks; default
``localhost,127.0.0.1,::1``); configs are sealed with the key in ``DB.push-key``.

Behaviour, by ``messageId`` prefix (the first match wins, in this order):

======================================  ==============================================
``tck-complete-task``                   COMPLETED, status message "Hello from TCK"
``tck-artifact-text``                   artifact text "Generated text content"; COMPLETED
``tck-artifact-file-url``               artifact file by url
                                        ``https://example.com/output.txt`` (filename
                                        ``output.txt``, ``text/plain``); COMPLETED
``tck-artifact-file``                   artifact file with raw bytes (``output.txt``,
                                        ``text/plain``); COMPLETED
``tck-artifact-data``                   artifact data ``{"key": "value", "count": 42}``;
                                        COMPLETED
``tck-message-response``                a Message only, no task: "Direct message response"
``tck-input-required``                  INPUT_REQUIRED (asks for more input)
``tck-reject-task``                     FAILED, status message "rejected: ..."
``tck-stream-001``                      WORKING, artifact "Stream hello from TCK", COMPLETED
``tck-stream-002``                      COMPLETED
``tck-stream-003``                      WORKING, artifact "Stream task lifecycle", COMPLETED
``tck-stream-ordering-001``             WORKING, artifact "Ordered output", COMPLETED
``tck-stream-artifact-text``            WORKING, artifact "Streamed text content", COMPLETED
``tck-stream-artifact-file``            WORKING, file artifact ``output.txt``, COMPLETED
``tck-stream-artifact-chunked``         WORKING, artifact chunk "chunk-1 ", appended
                                        last chunk "chunk-2", COMPLETED
``test-resubscribe-message-id``         WORKING, a pause of 2 x ``TCK_STREAMING_TIMEOUT``
                                        seconds (default 2, read on each call), COMPLETED
any other ``tck-`` id                   COMPLETED
``test-subscribe-message-id``           SUBMITTED at once, a pause of
                                        ``TCK_SUBSCRIBE_DELAY`` seconds (default 3),
                                        then WORKING until canceled
any other id                            WORKING until canceled (CancelTask -> CANCELED);
                                        from a v0.3 client (no ``A2A-Version``), as
                                        the v0.3 suite's reference agent: WORKING,
                                        a pause of 2 x ``TCK_LEGACY_STEP`` seconds
                                        (default 0.5; cancellable), an artifact
                                        ``response`` with its answer ("Hello World!
                                        ..."), COMPLETED with it; its follow-ups too
======================================  ==============================================

Accord creates the task on the first progress call, so streams start with a ``task``
snapshot in SUBMITTED before the events listed above. ``tck-reject-task`` ends FAILED
(not REJECTED): the suite's scenario raises an error from the agent, and an agent error
is a failed task.

A follow-up message on a task waiting for input (INPUT_REQUIRED) completes it with
"Hello from TCK", whatever its prefix, except a ``tck-input-required`` follow-up, which
asks for input again (the suite's history tests send two of those before the message
that completes the task).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import anyio

from accord.egress import EgressPolicy
from accord.server import A2AApp, Agent, TaskContext, build_card
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.server.push import PushSettings
from accord.stores import SQLiteTaskStore
from accord.types import (
    AgentExtension,
    AgentSkill,
    APIKeySecurityScheme,
    Part,
    SecurityScheme,
    replace,
)

__all__ = [
    "API_KEY_SCHEME",
    "DEFAULT_TCK_API_KEY",
    "EXTENDED_SKILL",
    "FILE_BYTES",
    "REQUIRED_EXTENSION",
    "SKILL",
    "create_agent",
    "create_app",
]

#: The API key GetExtendedAgentCard accepts unless ``TCK_API_KEY`` says otherwise. A
#: fixed default is fine here: it guards only the extended card of a test agent.
DEFAULT_TCK_API_KEY = "accord-tck-extended-card"
#: The scheme the card declares (and requires only for the extended card).
API_KEY_SCHEME = "apiKey"
#: The extension the suite's CORE-CAP-004 tests look for (``TCK_REQUIRED_EXTENSION=1``).
REQUIRED_EXTENSION = "urn:a2a:tck:required-extension"
TRUE = ("1", "true", "yes", "on")
#: The content of the raw file artifacts (``tck-artifact-file``, ``tck-stream-artifact-file``).
FILE_BYTES = b"Generated file content from TCK\n"
FILE_URL = "https://example.com/output.txt"
FILE_NAME = "output.txt"
FILE_TYPE = "text/plain"

SKILL = AgentSkill(
    id="tck",
    name="TCK conformance",
    description=(
        "Acts as the A2A TCK expects for the messageId prefix of each message "
        "(tck-complete-task, tck-artifact-*, tck-stream-*, tck-input-required, ...)."
    ),
    tags=("tck", "conformance"),
    examples=("messageId tck-complete-task-<id>: completes with 'Hello from TCK'",),
)
EXTENDED_SKILL = AgentSkill(
    id="tck-extended",
    name="TCK extended",
    description="Listed only in the extended (authenticated) card.",
    tags=("tck", "extended"),
)

Step = Callable[[TaskContext], Awaitable[None]]

#: How the agent waits out the TCK's timed pauses (``await pause(seconds)``); a test
#: may swap in a gate so that its steps are ordered by events, not by the clock.
pause: Callable[[float], Awaitable[None]] = anyio.sleep


def _seconds(variable: str, default: float) -> float:
    """A duration in seconds from the environment, read now (not at import)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"{variable} must be a number of seconds, got {raw!r}"
        ) from None
    if value < 0:
        raise ValueError(f"{variable} must not be negative, got {raw!r}")
    return value


def _file_part() -> Part:
    return Part(raw=FILE_BYTES, filename=FILE_NAME, media_type=FILE_TYPE)


# --- one coroutine per behaviour ------------------------------------------------------


async def _complete_task(ctx: TaskContext) -> None:
    await ctx.complete("Hello from TCK")


async def _artifact_text(ctx: TaskContext) -> None:
    await ctx.add_artifact("Generated text content")
    await ctx.complete()


async def _artifact_file_url(ctx: TaskContext) -> None:
    await ctx.add_artifact(Part(url=FILE_URL, filename=FILE_NAME, media_type=FILE_TYPE))
    await ctx.complete()


async def _artifact_file(ctx: TaskContext) -> None:
    await ctx.add_artifact(_file_part())
    await ctx.complete()


async def _artifact_data(ctx: TaskContext) -> None:
    await ctx.add_artifact(data={"key": "value", "count": 42})
    await ctx.complete()


async def _message_response(ctx: TaskContext) -> None:
    await ctx.reply("Direct message response")


async def _input_required(ctx: TaskContext) -> None:
    await ctx.ask_for_input("Input required: send a follow-up message on this task")


async def _reject_task(ctx: TaskContext) -> None:
    await ctx.fail("rejected: the TCK asked this agent to refuse the task")


def _streamed(text: str) -> Step:
    """WORKING, one text artifact, COMPLETED."""

    async def step(ctx: TaskContext) -> None:
        await ctx.working()
        await ctx.add_artifact(text)
        await ctx.complete()

    return step


async def _stream_completed_only(ctx: TaskContext) -> None:
    await ctx.complete()


async def _stream_artifact_file(ctx: TaskContext) -> None:
    await ctx.working()
    await ctx.add_artifact(_file_part())
    await ctx.complete()


async def _stream_artifact_chunked(ctx: TaskContext) -> None:
    await ctx.working()
    artifact_id = await ctx.add_artifact("chunk-1 ")
    await ctx.append_artifact(artifact_id, "chunk-2", last_chunk=True)
    await ctx.complete()


async def _pause(
    ctx: TaskContext, variable: str, default: float, factor: float = 1.0
) -> bool:
    """Sleep as long as ``variable`` says; a bad value fails the task, saying why.

    The reason goes through ``ctx.fail``: an exception's text would reach the partner
    only as an error id.
    """
    try:
        seconds = _seconds(variable, default)
    except ValueError as exc:
        await ctx.fail(str(exc))
        return False
    await pause(factor * seconds)
    return True


async def _long_running(ctx: TaskContext) -> None:
    await ctx.working()
    if await _pause(ctx, "TCK_STREAMING_TIMEOUT", 2.0, factor=2):
        await ctx.complete()


async def _subscribe_target(ctx: TaskContext) -> None:
    await ctx.submit()  # visible (and subscribable) at once, SUBMITTED during the pause
    if await _pause(ctx, "TCK_SUBSCRIBE_DELAY", 3.0):
        await _work_until_canceled(ctx)


async def _complete_any(ctx: TaskContext) -> None:
    await ctx.complete()


async def _work_until_canceled(ctx: TaskContext) -> None:
    await ctx.working()
    await anyio.sleep_forever()  # CancelTask cancels this; the task ends CANCELED


#: Prefix -> behaviour, most specific first (``tck-artifact-file-url`` before
#: ``tck-artifact-file``); the first prefix the messageId starts with wins.
ROUTES: tuple[tuple[str, Step], ...] = (
    ("tck-complete-task", _complete_task),
    ("tck-artifact-text", _artifact_text),
    ("tck-artifact-file-url", _artifact_file_url),
    ("tck-artifact-file", _artifact_file),
    ("tck-artifact-data", _artifact_data),
    ("tck-message-response", _message_response),
    ("tck-input-required", _input_required),
    ("tck-reject-task", _reject_task),
    ("tck-stream-001", _streamed("Stream hello from TCK")),
    ("tck-stream-002", _stream_completed_only),
    ("tck-stream-003", _streamed("Stream task lifecycle")),
    ("tck-stream-ordering-001", _streamed("Ordered output")),
    ("tck-stream-artifact-text", _streamed("Streamed text content")),
    ("tck-stream-artifact-file", _stream_artifact_file),
    ("tck-stream-artifact-chunked", _stream_artifact_chunked),
    ("test-resubscribe-message-id", _long_running),
    ("test-subscribe-message-id", _subscribe_target),
    ("tck-", _complete_any),
)


def _legacy_answer(text: str) -> str:
    """What the v0.3 suite's reference agent answers to ``text``."""
    lowered = text.lower()
    if not text.strip():
        return "Hello! Please provide a message for me to respond to."
    if "hello" in lowered or "hi" in lowered:
        return "Hello World! Nice to meet you!"
    if "how are you" in lowered:
        return "I'm doing great! Thanks for asking. How can I help you today?"
    if "goodbye" in lowered or "bye" in lowered:
        return "Goodbye! Have a wonderful day!"
    return f"Hello World! You said: '{text}'. Thanks for your message!"


async def _legacy(ctx: TaskContext) -> None:
    """The v0.3 suite's reference agent: WORKING, a pause, the answer as an artifact
    named ``response``, COMPLETED with it; cancellable during the pauses."""
    await ctx.working()
    if not await _pause(ctx, "TCK_LEGACY_STEP", 0.5, factor=2):
        return
    answer = _legacy_answer(ctx.text)
    await ctx.add_artifact(
        answer, name="response", description="Agent response to user message."
    )
    await ctx.complete(answer)


def route(message_id: str, version: str = "1.0") -> Step:
    """The behaviour for a first message with this id (``version``: the caller's)."""
    for prefix, step in ROUTES:
        if message_id.startswith(prefix):
            return step
    return _legacy if version == "0.3" else _work_until_canceled


async def respond(ctx: TaskContext) -> None:
    """The agent's behaviour: pick by messageId prefix (see the module docstring)."""
    message_id = ctx.message.message_id
    if ctx.is_follow_up and ctx.protocol_version == "0.3":
        await _legacy(ctx)
        return
    if ctx.is_follow_up:
        if message_id.startswith("tck-input-required"):
            await _input_required(ctx)
        else:
            await _complete_task(ctx)
        return
    await route(message_id, ctx.protocol_version)(ctx)


def _flag(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in TRUE


def _required_extension() -> tuple[AgentExtension, ...]:
    """The suite's required extension, declared when ``TCK_REQUIRED_EXTENSION`` is set."""
    if not _flag("TCK_REQUIRED_EXTENSION"):
        return ()
    return (
        AgentExtension(
            uri=REQUIRED_EXTENSION,
            description="Declared for CORE-CAP-004: messages must activate it.",
            required=True,
        ),
    )


def create_agent() -> Agent:
    """The conformance agent; its extended card lists no interfaces of its own, so the
    server fills in the public card's, as the caller sees them."""
    agent = Agent(
        respond,
        name="Accord TCK conformance agent",
        description=(
            "System under test for the A2A conformance suite (a2a-tck): behaves as the "
            "suite asks through the prefix of each message's messageId."
        ),
        skills=(SKILL,),
        streaming=True,
        push_notifications=True,
        declare_extended_card=True,
        extensions=_required_extension(),
        # The legacy v0.3 suite finds the agent by the card's v0.3 members; the v1.0
        # suite validates the card against the v1.0 schema, which forbids them.
        v03_card=_flag("TCK_V03_CARD"),
        security_schemes={
            API_KEY_SCHEME: SecurityScheme(
                api_key_security_scheme=APIKeySecurityScheme(
                    description="Only GetExtendedAgentCard needs it (TCK_API_KEY).",
                    location="header",
                    name="X-API-Key",
                )
            )
        },
    )
    public = build_card(agent, "")
    agent.extended_card = replace(
        public,
        supported_interfaces=(),
        description=(
            "Extended card: the authenticated view of the TCK conformance agent, with "
            "the extra skill tck-extended."
        ),
        skills=(SKILL, EXTENDED_SKILL),
    )
    return agent


def create_app(db: str) -> A2AApp:
    """What ``accord serve examples/conformance_agent.py`` serves: tasks in ``db``."""
    keys = ApiKeyRing()
    keys.add(os.environ.get("TCK_API_KEY") or DEFAULT_TCK_API_KEY, principal="tck")
    allow = os.environ.get("TCK_PUSH_ALLOW") or "localhost,127.0.0.1,::1"
    return A2AApp(
        create_agent(),
        store=SQLiteTaskStore(db),
        auth={API_KEY_SCHEME: ApiKeyVerifier(keys)},
        push=PushSettings(egress=EgressPolicy.from_strings(allow.split(","))),
    )

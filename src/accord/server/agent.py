"""What an agent author writes: an :class:`Agent` and one async function (or method).

Theory of operation. The author declares the agent once (name, skills, capabilities,
security schemes; this becomes the Agent Card) and writes one coroutine that receives a
:class:`TaskContext`. The context is the whole progress API, and the framework enforces
the lifecycle behind it:

* ``await ctx.working("looking it up")``: the task is (created and) WORKING;
* ``await ctx.add_artifact(...)`` / ``await ctx.append_artifact(...)``: outputs, also chunked;
* ``await ctx.ask_for_input("which day?")`` / ``await ctx.require_auth(...)``: the turn
  ends in INPUT_REQUIRED / AUTH_REQUIRED; the client's next message on the task starts
  a new call of the function with ``ctx.is_follow_up`` true;
* ``await ctx.complete(...)`` / ``await ctx.fail(...)`` / ``await ctx.reject(...)``: the end;
* ``await ctx.reply("hi")``: answer with a Message only, no task (spec §3.1.1).

The task is created lazily, on the first call that needs one, so a function that only
replies never makes a task. Returning without a final call completes the task; raising
fails it with a status message naming the error; a CancelTask cancels the coroutine
(anyio cancellation) and the task ends CANCELED. Calls after the turn has ended raise
``RuntimeError``: that is a bug in the agent, not a protocol event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from accord._clock import new_id
from accord.types import (
    UNSET,
    AgentCard,
    AgentExtension,
    AgentProvider,
    AgentSkill,
    Artifact,
    Message,
    Part,
    Role,
    SecurityRequirement,
    SecurityScheme,
    SendMessageConfiguration,
    Task,
    TaskState,
)

if TYPE_CHECKING:
    from .auth.principal import Principal
    from .runtime import Execution

__all__ = [
    "Agent",
    "AgentFunction",
    "Content",
    "TaskContext",
    "agent_message",
    "to_parts",
]

#: What the progress API accepts as content: text, one part, or several parts.
Content = str | Part | Sequence[Part]

AgentFunction = Callable[["TaskContext"], Awaitable[None]]


def to_parts(content: Content | None = None, *, data: Any = UNSET) -> tuple[Part, ...]:
    """Turn text / a part / parts (and optionally a JSON ``data`` value) into parts."""
    parts: list[Part] = []
    if isinstance(content, str):
        parts.append(Part(text=content))
    elif isinstance(content, Part):
        parts.append(content)
    elif content is not None:
        parts.extend(content)
    if data is not UNSET:
        parts.append(Part(data=data, media_type="application/json"))
    return tuple(parts)


def agent_message(
    content: Content | None,
    *,
    task_id: str = "",
    context_id: str = "",
    data: Any = UNSET,
) -> Message | None:
    """Build an AGENT-role message, or None when there is no content."""
    if content is None and data is UNSET:
        return None  # the common ``complete()``: no parts to build
    parts = to_parts(content, data=data)
    if not parts:
        return None
    return Message(
        message_id=new_id(),
        role=Role.AGENT,
        parts=parts,
        task_id=task_id,
        context_id=context_id,
    )


class _Executor(Protocol):
    async def execute(self, ctx: TaskContext) -> None: ...


class Agent:
    """An A2A agent: its declaration (the card) and its behaviour.

    Either pass the coroutine function, decorate one with :meth:`executor`, or subclass
    and override :meth:`execute`.

    Example::

        agent = Agent(name="Echo", description="Repeats what you say")

        @agent.executor
        async def echo(ctx: TaskContext) -> None:
            await ctx.add_artifact(ctx.text)
            await ctx.complete()

    ``security_schemes`` and ``security_requirements`` are the card's and are what the
    server enforces: serve such an agent with
    ``A2AApp(agent, auth={scheme name: verifier})`` (see :mod:`accord.server.auth`).
    """

    def __init__(
        self,
        function: AgentFunction | None = None,
        *,
        name: str,
        description: str,
        version: str = "1.0.0",
        skills: Sequence[AgentSkill] = (),
        provider: AgentProvider | None = None,
        streaming: bool = True,
        push_notifications: bool = False,
        default_input_modes: Sequence[str] = ("text/plain", "application/json"),
        default_output_modes: Sequence[str] = ("text/plain", "application/json"),
        security_schemes: Mapping[str, SecurityScheme] | None = None,
        security_requirements: Sequence[SecurityRequirement] = (),
        extensions: Sequence[AgentExtension] = (),
        documentation_url: str | None = None,
        icon_url: str | None = None,
        extended_card: AgentCard
        | Callable[[Principal], AgentCard | Awaitable[AgentCard]]
        | None = None,
        declare_extended_card: bool | None = None,
        retry_safe: bool = False,
        v03_card: bool = False,
    ) -> None:
        if not name:
            raise ValueError("an agent needs a name")
        self._function = function
        self.name = name
        self.description = description
        self.version = version
        self.skills = tuple(skills)
        self.provider = provider
        self.streaming = streaming
        #: Partners may register webhooks for this agent's tasks (spec §4.3): the
        #: card says ``pushNotifications``, the push-config operations are served and
        #: the engine delivers every task event to each webhook
        #: (:mod:`accord.server.push`). Off: they answer PushNotificationNotSupportedError
        #: (spec §3.3.4).
        self.push_notifications = push_notifications
        self.default_input_modes = tuple(default_input_modes)
        self.default_output_modes = tuple(default_output_modes)
        self.security_schemes = dict(security_schemes or {})
        self.security_requirements = tuple(security_requirements)
        self.extensions = tuple(extensions)
        self.documentation_url = documentation_url
        self.icon_url = icon_url
        #: The extended card (spec §3.1.11), or a function building it for the
        #: authenticated caller (it may differ per tenant or scope). Served only to
        #: authenticated callers; the public card then says
        #: ``capabilities.extendedAgentCard``.
        self.extended_card = extended_card
        #: Running a task again from its last message does no harm (no double booking,
        #: no double payment): when the instance running it stops, another instance
        #: runs it again (``ctx.attempt`` > 1) instead of ending it FAILED.
        self.retry_safe = retry_safe
        #: Add to the public card the members A2A v0.3 clients discover an agent by
        #: (``url``, ``protocolVersion``, ``preferredTransport``, ``security``, each
        #: scheme's ``type``). The JSON-RPC endpoint serves v0.3 either way; off by
        #: default because the card's v1.0 JSON schema admits no other members (the
        #: conformance suite validates it), as the official SDK adds them only when
        #: asked to. A signed card never carries them.
        self.v03_card = v03_card
        self.declare_extended_card = (
            extended_card is not None
            if declare_extended_card is None
            else declare_extended_card
        )

    def executor(self, function: AgentFunction) -> AgentFunction:
        """Decorator: use ``function`` as the agent's behaviour."""
        self._function = function
        return function

    async def execute(self, ctx: TaskContext) -> None:
        """Handle one incoming message. Override in a subclass, or pass a function."""
        if self._function is None:
            raise RuntimeError(
                f"agent {self.name!r} has no behaviour: pass a function, use "
                "@agent.executor, or override execute()"
            )
        await self._function(ctx)


class TaskContext:
    """The progress API handed to the agent for one incoming message."""

    def __init__(self, execution: Execution) -> None:
        self._x = execution

    # --- what came in -------------------------------------------------------------------

    @property
    def message(self) -> Message:
        """The incoming message."""
        return self._x.message

    @property
    def text(self) -> str:
        """The text of the incoming message's text parts, joined."""
        return self._x.message.text

    @property
    def data(self) -> list[Any]:
        """The values of the incoming message's data parts."""
        return [p.data for p in self._x.message.parts if p.data is not UNSET]

    @property
    def task_id(self) -> str:
        """Id of the task this message belongs to (created on first use)."""
        return self._x.task_id

    @property
    def context_id(self) -> str:
        """Id of the conversation (context) this message belongs to."""
        return self._x.context_id

    @property
    def task(self) -> Task | None:
        """The task as it stands now, or None while no task exists yet."""
        return self._x.recorder.task

    @property
    def is_follow_up(self) -> bool:
        """True when the message continues an existing task (multi-turn, spec §3.4)."""
        return self._x.existing

    @property
    def configuration(self) -> SendMessageConfiguration | None:
        """The request's configuration (accepted output modes, history length, ...)."""
        return self._x.request.configuration

    @property
    def request_metadata(self) -> dict[str, Any]:
        """The ``metadata`` of the SendMessage request."""
        return dict(self._x.request.metadata or {})

    @property
    def attempt(self) -> int:
        """1 on the first run; n > 1 when another instance re-runs the task because the
        instance running it stopped (only for ``Agent(retry_safe=True)``)."""
        return self._x.attempt

    @property
    def is_retry(self) -> bool:
        """True when this run repeats one that was interrupted (``attempt > 1``)."""
        return self._x.attempt > 1

    @property
    def protocol_version(self) -> str:
        """The A2A version the caller speaks: ``1.0``, or ``0.3`` for a v0.3 client
        (served through the same API; spec §3.6), also when another instance claimed
        the message from the queue. A run taken over from a stopped instance (the
        request is gone; only its message is stored) says ``1.0``."""
        return self._x.version

    @property
    def owner(self) -> str:
        """The authenticated principal the task belongs to ("" when anonymous)."""
        return self._x.scope.owner or ""

    @property
    def tenant(self) -> str:
        """The tenant of the request ("" when none)."""
        return self._x.scope.tenant

    # --- progress -----------------------------------------------------------------------

    async def submit(self) -> None:
        """Create the task now, in SUBMITTED, and write what is pending.

        Useful before slow work that should already be visible (GetTask, subscribers,
        ``returnImmediately`` callers) before the first real progress call, and
        before a side effect outside the task (a message to a person, a file, a call)
        that must find the task recorded should this process die: a blocking send's
        first progress calls are written behind the agent
        (:mod:`accord.server.write_behind`), as soon as it waits for anything.
        """
        await self._x.recorder.submit()

    async def working(
        self, content: Content | None = None, *, data: Any = UNSET
    ) -> None:
        """Move the task to WORKING, optionally with a progress message."""
        await self._x.recorder.status(TaskState.WORKING, content, data=data)

    async def add_artifact(
        self,
        content: Content | None = None,
        *,
        data: Any = UNSET,
        name: str = "",
        description: str = "",
        artifact_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        last_chunk: bool = False,
    ) -> str:
        """Publish a new artifact (or replace one with the same id); returns its id.

        To stream an artifact in chunks, add the first chunk here and the rest with
        :meth:`append_artifact`, passing ``last_chunk=True`` on the final one.
        """
        parts = to_parts(content, data=data)
        if not parts:
            raise ValueError("an artifact needs content: text, parts or data")
        artifact = Artifact(
            artifact_id=artifact_id or new_id(),
            name=name,
            description=description,
            parts=parts,
            metadata=dict(metadata) if metadata else None,
        )
        await self._x.recorder.artifact(artifact, append=False, last_chunk=last_chunk)
        return artifact.artifact_id

    async def append_artifact(
        self,
        artifact_id: str,
        content: Content | None = None,
        *,
        data: Any = UNSET,
        last_chunk: bool = False,
    ) -> None:
        """Append parts to an artifact published earlier (spec §4.1 ``append``)."""
        parts = to_parts(content, data=data)
        if not parts:
            raise ValueError("append_artifact needs content: text, parts or data")
        await self._x.recorder.artifact(
            Artifact(artifact_id=artifact_id, parts=parts),
            append=True,
            last_chunk=last_chunk,
        )

    async def ask_for_input(self, content: Content, *, data: Any = UNSET) -> None:
        """End this turn in INPUT_REQUIRED with a message saying what is needed (spec §3.4)."""
        await self._x.recorder.status(TaskState.INPUT_REQUIRED, content, data=data)

    async def require_auth(self, content: Content, *, data: Any = UNSET) -> None:
        """End this turn in AUTH_REQUIRED, explaining the authorization needed (spec §7.6.1)."""
        await self._x.recorder.status(TaskState.AUTH_REQUIRED, content, data=data)

    async def complete(
        self, content: Content | None = None, *, data: Any = UNSET
    ) -> None:
        """Finish the task successfully, optionally with a final message."""
        await self._x.recorder.status(TaskState.COMPLETED, content, data=data)

    async def fail(self, content: Content, *, data: Any = UNSET) -> None:
        """Finish the task as FAILED with a message saying why."""
        await self._x.recorder.status(TaskState.FAILED, content, data=data)

    async def reject(self, content: Content, *, data: Any = UNSET) -> None:
        """Refuse the task (REJECTED) with a message saying why."""
        await self._x.recorder.status(TaskState.REJECTED, content, data=data)

    async def reply(self, content: Content, *, data: Any = UNSET) -> None:
        """Answer with a Message only: no task is created (spec §3.1.1).

        Raises:
            RuntimeError: when a task already exists for this message.
        """
        await self._x.recorder.reply(content, data=data)

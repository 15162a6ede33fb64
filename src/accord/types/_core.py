"""Core objects of A2A v1.0: Task, TaskStatus, Message, Part, Artifact, events.

Mirrors ``lf.a2a.v1`` in ``specification/a2a.proto`` (spec §4.1), fields in proto
field-number order. Oneofs are optional fields plus a check that exactly one is set
(spec §4); a typed property returns the member that is set.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

from accord import _clock

from ._base import A2AStruct, Timestamp, normalize_timestamp

#: A REQUIRED id: non-empty. The constraint is checked when decoding, so the error
#: names the field; ``__post_init__`` checks it again for values built in code.
_Id = Annotated[str, msgspec.Meta(min_length=1)]

__all__ = [
    "Artifact",
    "Message",
    "Part",
    "Role",
    "StreamResponse",
    "Task",
    "TaskArtifactUpdateEvent",
    "TaskState",
    "TaskStatus",
    "TaskStatusUpdateEvent",
]


class TaskState(enum.StrEnum):
    """Lifecycle state of a task (spec §4.1.3); values are the proto enum names."""

    UNSPECIFIED = "TASK_STATE_UNSPECIFIED"
    SUBMITTED = "TASK_STATE_SUBMITTED"
    WORKING = "TASK_STATE_WORKING"
    COMPLETED = "TASK_STATE_COMPLETED"
    FAILED = "TASK_STATE_FAILED"
    CANCELED = "TASK_STATE_CANCELED"
    INPUT_REQUIRED = "TASK_STATE_INPUT_REQUIRED"
    REJECTED = "TASK_STATE_REJECTED"
    AUTH_REQUIRED = "TASK_STATE_AUTH_REQUIRED"


class Role(enum.StrEnum):
    """Sender of a message: the client (USER) or the agent (AGENT)."""

    UNSPECIFIED = "ROLE_UNSPECIFIED"
    USER = "ROLE_USER"
    AGENT = "ROLE_AGENT"


class Part(A2AStruct, frozen=True, kw_only=True):
    """One piece of content: exactly one of ``text``, ``raw``, ``url``, ``data``.

    ``data`` is a ``google.protobuf.Value``: any JSON value, ``null`` included, so
    "not set" is ``msgspec.UNSET`` rather than ``None``.
    """

    text: str | None = None
    #: Inline file bytes (base64 in JSON).
    raw: bytes | None = None
    #: A file reference by URL.
    url: str | None = None
    #: Any JSON value.
    data: Any | msgspec.UnsetType = msgspec.UNSET
    metadata: dict[str, Any] | None = None
    filename: str = ""
    #: MIME type of the content (e.g. ``text/plain``, ``image/png``).
    media_type: str = ""

    def __post_init__(self) -> None:
        # Exactly one member set: branches cost half what counting them does, and
        # every Part decoded or built comes through here.
        unset = msgspec.UNSET
        if self.text is not None:
            one = self.raw is None and self.url is None and self.data is unset
        elif self.raw is not None:
            one = self.url is None and self.data is unset
        elif self.url is not None:
            one = self.data is unset
        else:
            one = self.data is not unset
        if not one:
            raise ValueError("a Part must set exactly one of text, raw, url, data")

    @property
    def kind(self) -> str:
        """Name of the member of the ``content`` oneof that is set."""
        if self.text is not None:
            return "text"
        if self.raw is not None:
            return "raw"
        if self.url is not None:
            return "url"
        return "data"


#: A REQUIRED repeated field: at least one element (spec §5.7), checked the same way.
_Parts = Annotated[tuple[Part, ...], msgspec.Meta(min_length=1)]


class Message(A2AStruct, frozen=True, kw_only=True):
    """One turn of communication between a client (USER) and an agent (AGENT)."""

    message_id: _Id
    context_id: str = ""
    task_id: str = ""
    role: Role
    parts: _Parts
    metadata: dict[str, Any] | None = None
    #: URIs of extensions present in or contributing to this message.
    extensions: tuple[str, ...] = ()
    #: Related task ids the message refers to, for context.
    reference_task_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Spec §5.7: REQUIRED repeated fields hold at least one element.
        if not self.parts:
            raise ValueError("a Message needs at least one part")
        if not self.message_id:
            raise ValueError("a Message needs a non-empty messageId")

    @property
    def text(self) -> str:
        """The concatenated text of the message's text parts."""
        parts = self.parts
        if len(parts) == 1:  # the common case: no generator, no join
            return parts[0].text or ""
        return "".join([p.text for p in parts if p.text is not None])


class TaskStatus(A2AStruct, frozen=True, kw_only=True):
    """State of a task, an optional agent message, and when it was recorded."""

    state: TaskState
    message: Message | None = None
    timestamp: Timestamp | None = None

    def __post_init__(self) -> None:
        timestamp = self.timestamp
        # The server's own statuses carry the stamp the clock just made: canonical
        # by construction (the very string, not an equal one someone passed).
        if timestamp is not None and timestamp is not _clock.last_stamp:
            canonical = normalize_timestamp(timestamp)
            if canonical is not timestamp:
                msgspec.structs.force_setattr(self, "timestamp", canonical)


class Artifact(A2AStruct, frozen=True, kw_only=True):
    """An output of a task, made of parts."""

    artifact_id: _Id
    name: str = ""
    description: str = ""
    parts: _Parts
    metadata: dict[str, Any] | None = None
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("an Artifact needs at least one part")
        if not self.artifact_id:
            raise ValueError("an Artifact needs a non-empty artifactId")


class Task(A2AStruct, frozen=True, kw_only=True):
    """The unit of work an agent performs for a client."""

    id: str
    context_id: str = ""
    status: TaskStatus
    artifacts: tuple[Artifact, ...] = ()
    history: tuple[Message, ...] = ()
    metadata: dict[str, Any] | None = None


class TaskStatusUpdateEvent(A2AStruct, frozen=True, kw_only=True):
    """A change of a task's status, sent on streams and to webhooks."""

    task_id: str
    context_id: str = ""
    status: TaskStatus
    metadata: dict[str, Any] | None = None


class TaskArtifactUpdateEvent(A2AStruct, frozen=True, kw_only=True):
    """A new artifact or a chunk of one (``append``), sent on streams and to webhooks."""

    task_id: str
    context_id: str = ""
    artifact: Artifact
    #: True: add the parts to the artifact with the same id sent earlier.
    append: bool = False
    #: True: this is the final chunk of the artifact.
    last_chunk: bool = False
    metadata: dict[str, Any] | None = None


class StreamResponse(A2AStruct, frozen=True, kw_only=True):
    """One streamed event: exactly one of task, message, statusUpdate, artifactUpdate."""

    task: Task | None = None
    message: Message | None = None
    status_update: TaskStatusUpdateEvent | None = None
    artifact_update: TaskArtifactUpdateEvent | None = None

    def __post_init__(self) -> None:
        # Exactly one member set, in branches (see Part): a few per request.
        if self.task is not None:
            one = (
                self.message is None
                and self.status_update is None
                and self.artifact_update is None
            )
        elif self.message is not None:
            one = self.status_update is None and self.artifact_update is None
        elif self.status_update is not None:
            one = self.artifact_update is None
        else:
            one = self.artifact_update is not None
        if not one:
            raise ValueError(
                "a StreamResponse must set exactly one of task, message, "
                "statusUpdate, artifactUpdate"
            )

    @property
    def payload(
        self,
    ) -> Task | Message | TaskStatusUpdateEvent | TaskArtifactUpdateEvent:
        """The member of the ``payload`` oneof that is set."""
        value = self.task or self.message or self.status_update or self.artifact_update
        assert value is not None
        return value

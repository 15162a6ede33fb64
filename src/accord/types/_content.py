"""Building messages from plain values, and reading text, data and files out of results.

Pure functions over the wire model (no I/O), so both sides use them: a client builds
the message it sends (``user_message("Book this", {"phone": "+14155550123"})``) and
reads the answer (``text_of(task)``, ``data_of(task)``); an agent reads its input the
same way.

*Content* (:data:`MessageContent`) is what a part is made from: a ``str`` becomes a
text part, a mapping (a JSON object) a data part, and a :class:`Part` stays as it is.
Other JSON values go in :func:`data_part`, bytes and URLs in :func:`file_part` (a
file needs a media type to be useful to the receiver, so it is never guessed from
bare bytes).

*Reading* takes any result or event: :class:`Message`, :class:`Task`,
:class:`Artifact`, :class:`Part`, :class:`StreamResponse` and the two update events.
A task's content is its artifacts (its outputs, spec §3.7); a task without artifacts
(asking for input, failed, rejected) says what it has to say in its status message,
so that is read instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from ._core import (
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskStatusUpdateEvent,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "MessageContent",
    "Readable",
    "data_of",
    "data_part",
    "file_part",
    "files_of",
    "find_artifact",
    "text_of",
    "user_message",
]

#: What a message part is made from: text, a JSON object (data), or a ready Part.
MessageContent: TypeAlias = str | Mapping[str, Any] | Part
#: What the readers accept: a result, an event, or a piece of one (None reads empty).
Readable: TypeAlias = (
    Message
    | Task
    | Artifact
    | Part
    | StreamResponse
    | TaskStatusUpdateEvent
    | TaskArtifactUpdateEvent
    | None
)


def data_part(value: Any, *, media_type: str = "application/json") -> Part:
    """A data part holding any JSON value (object, array, string, number, bool, null)."""
    return Part(data=value, media_type=media_type)


def file_part(
    content: bytes | bytearray | memoryview | None = None,
    *,
    url: str | None = None,
    media_type: str,
    filename: str = "",
) -> Part:
    """A file part: inline ``content`` (bytes, base64 on the wire) or a ``url``.

    Args:
        content: the file's bytes; or None with ``url``.
        url: where the receiver can fetch the file; or None with ``content``.
        media_type: its MIME type (``application/pdf``, ``image/png``…), which tells
            the receiver what to do with it.
        filename: its name, if it has one.

    Raises:
        ValueError: neither or both of ``content`` and ``url``.
        TypeError: ``content`` is not bytes.
    """
    if (content is None) == (url is None):
        raise ValueError("file_part takes the file's bytes or its url (exactly one)")
    if content is not None and not isinstance(content, bytes | bytearray | memoryview):
        raise TypeError(
            f"file_part content must be bytes, not {type(content).__name__}; "
            "for text use a str part, for a link use url="
        )
    return Part(
        raw=None if content is None else bytes(content),
        url=url,
        media_type=media_type,
        filename=filename,
    )


def _part(content: MessageContent) -> Part:
    if isinstance(content, Part):
        return content
    if isinstance(content, str):
        return Part(text=content)
    if isinstance(content, Mapping):
        return data_part(dict(content))
    hint = (
        "file_part(content, media_type=...)"
        if isinstance(content, bytes | bytearray | memoryview)
        else "data_part(value)"
    )
    raise TypeError(
        f"cannot make a message part from {type(content).__name__}: give a str "
        f"(text), a dict (data) or a Part; for this value use {hint}"
    )


def user_message(
    *content: MessageContent,
    context_id: str = "",
    task_id: str = "",
    metadata: Mapping[str, Any] | None = None,
    reference_task_ids: Sequence[str] = (),
    message_id: str | None = None,
) -> Message:
    """A USER message with one part per ``content``, in order, and a fresh message id.

    ``user_message("Book a callback", {"phone": "+14155550123"})`` is a text part
    then a data part. ``task_id`` continues a task (answering INPUT_REQUIRED);
    ``context_id`` groups it with earlier interactions (spec §3.4).

    Raises:
        ValueError: no content.
        TypeError: a content that is not a str, a mapping or a Part.
    """
    if not content:
        raise ValueError("a message needs at least one part: give some content")
    return Message(
        message_id=message_id or str(uuid.uuid4()),
        role=Role.USER,
        parts=tuple(_part(c) for c in content),
        context_id=context_id,
        task_id=task_id,
        metadata=None if metadata is None else dict(metadata),
        reference_task_ids=tuple(reference_task_ids),
    )


def _groups(item: Readable) -> list[tuple[Part, ...]]:
    """The part lists ``item`` is made of: one per message or artifact."""
    if item is None:
        return []
    if isinstance(item, Part):
        return [(item,)]
    if isinstance(item, Message | Artifact):
        return [item.parts]
    if isinstance(item, Task):
        if item.artifacts:
            return [artifact.parts for artifact in item.artifacts]
        return _groups(item.status.message)
    if isinstance(item, TaskStatusUpdateEvent):
        return _groups(item.status.message)
    if isinstance(item, TaskArtifactUpdateEvent):
        return _groups(item.artifact)
    if isinstance(item, StreamResponse):
        return _groups(item.payload)
    raise TypeError(
        f"cannot read content from a {type(item).__name__}: give a Message, Task, "
        "Artifact, Part or stream event"
    )


def text_of(item: Readable) -> str:
    """The text of ``item``: its text parts, joined; ``""`` when it has none.

    The text parts of one message or artifact are concatenated (like
    :attr:`Message.text`); the texts of several artifacts are joined by newlines. A
    task reads as its artifacts, or as its status message when it has none.
    """
    texts = (
        "".join(p.text for p in parts if p.text is not None) for parts in _groups(item)
    )
    return "\n".join(text for text in texts if text)


def data_of(item: Readable) -> list[Any]:
    """The values of the data parts of ``item``, in order (a task: as :func:`text_of`)."""
    return [p.data for parts in _groups(item) for p in parts if p.kind == "data"]


def files_of(item: Readable) -> list[Part]:
    """The file parts of ``item``, in order: ``part.raw`` holds the bytes of an inline
    file, ``part.url`` the address of a linked one; ``filename`` and ``media_type``
    describe it (a task: as :func:`text_of`)."""
    return [p for parts in _groups(item) for p in parts if p.kind in ("raw", "url")]


def find_artifact(task: Task, name: str) -> Artifact | None:
    """The task's first artifact called ``name``, or None when it has none of that name."""
    return next((a for a in task.artifacts if a.name == name), None)

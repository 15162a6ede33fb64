"""Content helpers: messages from plain values; text, data and files out of results."""

from __future__ import annotations

from typing import Any

import pytest

from accord.types import (
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
    data_of,
    data_part,
    decode,
    encode,
    file_part,
    files_of,
    find_artifact,
    text_of,
    user_message,
)

PDF = b"%PDF-1.7 fake"


def agent_message(*parts: Part) -> Message:
    return Message(message_id="a1", role=Role.AGENT, parts=parts)


def task(*artifacts: Artifact, status_message: Message | None = None) -> Task:
    return Task(
        id="t1",
        status=TaskStatus(state=TaskState.COMPLETED, message=status_message),
        artifacts=artifacts,
    )


# --- building -----------------------------------------------------------------------------


def test_user_message_from_text_data_and_files() -> None:
    link = file_part(url="https://x.example/a.png", media_type="image/png")
    message = user_message(
        "Book this",
        {"phone": "+14155550123"},
        file_part(PDF, media_type="application/pdf", filename="brief.pdf"),
        link,
    )
    assert message.role is Role.USER
    assert message.message_id  # fresh
    assert [p.kind for p in message.parts] == ["text", "data", "raw", "url"]
    assert message.parts[0].text == "Book this"
    assert message.parts[1] == Part(
        data={"phone": "+14155550123"}, media_type="application/json"
    )
    assert message.parts[2].raw == PDF
    assert message.parts[2].filename == "brief.pdf"
    assert message.parts[2].media_type == "application/pdf"
    assert message.parts[3] is link
    # It is a valid wire message: it survives a round trip.
    assert decode(encode(message), Message) == message


def test_user_message_ids_and_options() -> None:
    first, second = user_message("a"), user_message("a")
    assert first.message_id != second.message_id
    message = user_message(
        "more",
        context_id="c1",
        task_id="t1",
        metadata={"skill": "x"},
        reference_task_ids=["t0"],
        message_id="m1",
    )
    assert (message.context_id, message.task_id, message.message_id) == (
        "c1",
        "t1",
        "m1",
    )
    assert message.metadata == {"skill": "x"}
    assert message.reference_task_ids == ("t0",)


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"bytes", r"file_part\(content, media_type=...\)"),
        ([1, 2], r"data_part\(value\)"),
        (3, r"data_part\(value\)"),
    ],
)
def test_user_message_refuses_ambiguous_content(content: Any, hint: str) -> None:
    with pytest.raises(TypeError, match=hint):
        user_message(content)


def test_user_message_needs_content() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        user_message()


def test_data_part_holds_any_json_value() -> None:
    assert data_part([1, "two"]).data == [1, "two"]
    assert data_part(None).data is None  # JSON null is a value
    assert data_part({"a": 1}, media_type="application/vnd.x+json").media_type == (
        "application/vnd.x+json"
    )


def test_file_part_takes_bytes_or_a_url() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        file_part(media_type="text/plain")
    with pytest.raises(ValueError, match="exactly one"):
        file_part(b"x", url="https://x.example", media_type="text/plain")
    with pytest.raises(TypeError, match="must be bytes, not str"):
        file_part("text", media_type="text/plain")  # type: ignore[arg-type]
    assert file_part(bytearray(b"ab"), media_type="x/y").raw == b"ab"


# --- reading ------------------------------------------------------------------------------


def test_text_of_each_kind_of_result() -> None:
    answer = Artifact(artifact_id="a", name="answer", parts=(Part(text="42"),))
    notes = Artifact(
        artifact_id="b",
        name="notes",
        parts=(Part(text="first, "), Part(data={"k": 1}), Part(text="second")),
    )
    status = agent_message(Part(text="Done."))
    assert text_of(agent_message(Part(text="Hi "), Part(text="there"))) == "Hi there"
    assert text_of(notes) == "first, second"
    assert text_of(Part(text="x")) == "x"
    assert text_of(Part(data=1)) == ""
    # A task reads as its artifacts (one line each), else as its status message.
    assert text_of(task(answer, notes, status_message=status)) == "42\nfirst, second"
    assert text_of(task(status_message=status)) == "Done."
    assert text_of(task()) == ""
    assert text_of(None) == ""


def test_text_of_stream_events() -> None:
    update = TaskStatusUpdateEvent(
        task_id="t1",
        status=TaskStatus(
            state=TaskState.WORKING, message=agent_message(Part(text="Working…"))
        ),
    )
    chunk = TaskArtifactUpdateEvent(
        task_id="t1",
        artifact=Artifact(artifact_id="a", parts=(Part(text="chunk"),)),
    )
    assert text_of(update) == "Working…"
    assert text_of(StreamResponse(status_update=update)) == "Working…"
    assert text_of(StreamResponse(artifact_update=chunk)) == "chunk"
    assert text_of(StreamResponse(task=task())) == ""


def test_data_of_and_files_of() -> None:
    pdf = file_part(PDF, media_type="application/pdf", filename="a.pdf")
    link = file_part(url="https://x.example/b.png", media_type="image/png")
    artifact = Artifact(
        artifact_id="a",
        parts=(Part(text="see"), Part(data={"n": 1}), pdf, Part(data=[2]), link),
    )
    assert data_of(artifact) == [{"n": 1}, [2]]
    assert files_of(artifact) == [pdf, link]
    assert files_of(task(artifact))[0].raw == PDF
    asking = agent_message(Part(text="Which?"), Part(data={"missing": ["phone"]}))
    assert data_of(task(status_message=asking)) == [{"missing": ["phone"]}]
    assert data_of(agent_message(Part(text="none"))) == []


def test_find_artifact_by_name() -> None:
    first = Artifact(artifact_id="1", name="summary", parts=(Part(text="a"),))
    second = Artifact(artifact_id="2", name="summary", parts=(Part(text="b"),))
    other = Artifact(artifact_id="3", name="other", parts=(Part(text="c"),))
    done = task(other, first, second)
    assert find_artifact(done, "summary") is first
    assert find_artifact(done, "missing") is None


def test_reading_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot read content from a dict"):
        text_of({"text": "x"})  # type: ignore[arg-type]

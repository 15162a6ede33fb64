"""A2A answers as MCP tool results: one rule per task state, parts mapped by kind.

A tool call that reaches an A2A agent ends in a :class:`~accord.types.Task` (or, for
an agent that only replies, a :class:`~accord.types.Message`, spec §3.1.1). The MCP
client reads a ``CallToolResult``:

* ``content``: one sentence saying where the task stands and what to do next (the
  :data:`STATES` table), the status message's text, then each artifact's parts: text
  parts as text, file parts with their bytes as embedded resources, file parts by URL
  as resource links, data parts as their JSON text (for clients that read only text);
* ``structuredContent``: ``{"taskId", "contextId", "state", "message", "artifacts":
  [{"artifactId", "name", "text", "data"}]}`` (``data``: the values of the data parts),
  so a client reads the agent's structured answer without parsing text;
* ``isError``: true when the task failed, was rejected, or needs an authorization
  the bridge cannot give (spec §4.1.3 AUTH_REQUIRED: its credentials are the
  bridge's configuration, never a tool argument).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ResourceLink,
    TextContent,
)

from accord.types import Message, Task, TaskState, data_of, text_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from accord.types import Part

__all__ = ["STATES", "StateRule", "error_result", "message_result", "task_result"]

#: The content blocks of a tool result (what ``CallToolResult.content`` holds).
Block = TextContent | EmbeddedResource | ResourceLink


@dataclass(frozen=True, slots=True)
class StateRule:
    """How a tool result reports a task in one state.

    Attributes:
        is_error: the result's ``isError``.
        sentence: the first text block; ``{id}`` is the task's id.
    """

    is_error: bool
    sentence: str


#: One rule per task state (spec §4.1.3): what the MCP client is told, and whether it
#: is an error. Interrupted and unfinished tasks name the tool that goes on with them.
STATES: dict[TaskState, StateRule] = {
    TaskState.SUBMITTED: StateRule(
        False,
        "Task {id} is submitted and not started yet: call get_task with this task_id "
        "to follow it.",
    ),
    TaskState.WORKING: StateRule(
        False,
        "Task {id} is still working: call get_task with this task_id to follow it, "
        "or cancel_task to stop it.",
    ),
    TaskState.COMPLETED: StateRule(False, "Task {id} completed."),
    TaskState.INPUT_REQUIRED: StateRule(
        False,
        "Task {id} needs more input: answer with send_message (or the same skill "
        "tool) passing this task_id and the answer as message.",
    ),
    TaskState.AUTH_REQUIRED: StateRule(
        True,
        "Task {id} needs an authorization the bridge cannot give: configure its "
        "credentials for this agent.",
    ),
    TaskState.FAILED: StateRule(True, "Task {id} failed."),
    TaskState.REJECTED: StateRule(True, "Task {id} was rejected by the agent."),
    TaskState.CANCELED: StateRule(False, "Task {id} was canceled."),
}

_UNKNOWN = StateRule(True, "Task {id} is in a state this bridge does not know.")


def task_result(task: Task) -> CallToolResult:
    """The tool result reporting ``task`` (see the module docstring)."""
    state = task.status.state
    rule = STATES.get(state, _UNKNOWN)
    blocks: list[Block] = [
        TextContent(type="text", text=rule.sentence.format(id=task.id))
    ]
    status = task.status.message
    status_text = text_of(status) if status is not None else ""
    if status is not None:
        blocks.extend(_blocks(status.parts, f"a2a://tasks/{task.id}/status"))
    artifacts = []
    for artifact in task.artifacts:
        where = f"a2a://tasks/{task.id}/artifacts/{artifact.artifact_id}"
        blocks.extend(_blocks(artifact.parts, where))
        artifacts.append(
            {
                "artifactId": artifact.artifact_id,
                "name": artifact.name,
                "text": text_of(artifact),
                "data": data_of(artifact),
            }
        )
    structured: dict[str, Any] = {
        "taskId": task.id,
        "contextId": task.context_id,
        "state": state.value,
        "message": status_text,
        "artifacts": artifacts,
    }
    if status is not None and (needs := data_of(status)):
        structured["messageData"] = needs
    return CallToolResult(
        content=list(blocks), structured_content=structured, is_error=rule.is_error
    )


def message_result(message: Message) -> CallToolResult:
    """The tool result of a Message reply (no task, spec §3.1.1)."""
    structured = {
        "contextId": message.context_id,
        "message": text_of(message),
        "data": data_of(message),
    }
    blocks = _blocks(message.parts, f"a2a://messages/{message.message_id}")
    return CallToolResult(
        content=list(blocks) or [TextContent(type="text", text="(empty reply)")],
        structured_content=structured,
        is_error=False,
    )


def error_result(text: str) -> CallToolResult:
    """A tool result reporting an error the MCP client can act on."""
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _blocks(parts: Sequence[Part], where: str) -> list[Block]:
    """Content blocks for ``parts``; ``where`` names the URI of inline files."""
    blocks: list[Block] = []
    for n, part in enumerate(parts):
        if part.text is not None:
            blocks.append(TextContent(type="text", text=part.text))
        elif part.raw is not None:
            name = part.filename or f"part-{n}"
            blocks.append(
                EmbeddedResource(
                    type="resource",
                    resource=BlobResourceContents(
                        uri=f"{where}/{name}",
                        mime_type=part.media_type or "application/octet-stream",
                        blob=base64.b64encode(part.raw).decode("ascii"),
                    ),
                )
            )
        elif part.url is not None:
            blocks.append(
                ResourceLink(
                    type="resource_link",
                    uri=part.url,
                    name=part.filename or part.url,
                    mime_type=part.media_type or None,
                )
            )
        elif part.kind == "data":
            blocks.append(
                TextContent(type="text", text=json.dumps(part.data, ensure_ascii=False))
            )
    return blocks

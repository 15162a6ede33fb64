"""Rendering A2A values for people (text) and for scripts (ProtoJSON).

Human output is a few aligned ``label  value`` lines per object; data parts are shown
as indented JSON, files by name and URL. ``--json`` output is the ProtoJSON of the
value (``accord.types.to_builtins``), indented for single values and one compact
object per line (NDJSON) for streams. Every line is flushed as it is written, so a
stream shows progress live even through a pipe.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

from accord.types import (
    UNSET,
    AgentCard,
    Artifact,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskState,
    to_builtins,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "BAD_END_STATES",
    "INTERRUPTED_STATES",
    "TERMINAL_STATES",
    "Printer",
    "card_lines",
    "continue_hint",
    "event_lines",
    "message_lines",
    "part_lines",
    "state_name",
    "task_lines",
    "task_table",
    "to_json",
]

#: Final states that make ``send`` / ``task subscribe`` exit with status 1.
BAD_END_STATES = frozenset({TaskState.FAILED, TaskState.REJECTED, TaskState.CANCELED})
#: States a task never leaves (spec §3.1: no transition out of them).
TERMINAL_STATES = BAD_END_STATES | {TaskState.COMPLETED}
#: States in which the agent waits for the client (spec §3.4, §7.6).
INTERRUPTED_STATES = frozenset({TaskState.INPUT_REQUIRED, TaskState.AUTH_REQUIRED})

_INDENT = "  "


def to_json(value: Any, *, compact: bool = False) -> str:
    """ProtoJSON text of an A2A value (or of plain JSON data)."""
    data = to_builtins(value)
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(data, ensure_ascii=False, indent=2)


class Printer:
    """Writes lines to stdout, flushing each one (so streams show up live)."""

    def lines(self, lines: Iterable[str]) -> None:
        """Write each line and flush."""
        out = sys.stdout  # looked up on each call: tests swap it
        for line in lines:
            out.write(line + "\n")
        out.flush()

    def line(self, text: str = "") -> None:
        """Write one line and flush."""
        self.lines([text])


def state_name(state: TaskState) -> str:
    """``COMPLETED`` for ``TASK_STATE_COMPLETED``."""
    return state.name


def _indent(lines: Iterable[str], depth: int = 1) -> list[str]:
    pad = _INDENT * depth
    return [pad + line if line else line for line in lines]


def part_lines(part: Part) -> list[str]:
    """A part: text as is, data as indented JSON, a file by name and URL or size."""
    if part.text is not None:
        return part.text.splitlines() or [""]
    if part.data is not UNSET:
        return json.dumps(
            to_builtins(part.data), ensure_ascii=False, indent=2
        ).splitlines()
    name = part.filename or "(unnamed file)"
    media = f" ({part.media_type})" if part.media_type else ""
    if part.url is not None:
        return [f"file {name}{media}: {part.url}"]
    size = len(part.raw) if part.raw is not None else 0
    return [f"file {name}{media}: {size} bytes inline"]


def message_lines(
    message: Message, *, label: str = "message:", width: int = 10
) -> list[str]:
    """A message as ``label  text``; further lines and parts align under the text."""
    body: list[str] = []
    for part in message.parts:
        body.extend(part_lines(part))
    pad = " " * width
    rest = [pad + line if line else line for line in body]
    if message.parts[0].text is not None:
        return [f"{label:<{width}}{body[0]}".rstrip(), *rest[1:]]
    return [label, *rest]


def artifact_lines(artifact: Artifact, *, append: bool = False) -> list[str]:
    """An artifact: its name (or id), then its parts indented."""
    title = artifact.name or artifact.artifact_id
    suffix = " (more)" if append else ""
    lines = [f"artifact: {title}{suffix}"]
    if artifact.description:
        lines.append(f"{_INDENT}{artifact.description}")
    for part in artifact.parts:
        lines.extend(_indent(part_lines(part)))
    return lines


def continue_hint(url: str, task: Task) -> list[str]:
    """How to continue a task that waits for the client (INPUT_REQUIRED / AUTH_REQUIRED)."""
    if task.status.state not in INTERRUPTED_STATES:
        return []
    what = (
        "more input"
        if task.status.state is TaskState.INPUT_REQUIRED
        else "authorization"
    )
    command = f'accord send {shlex.quote(url)} "…" --task-id {shlex.quote(task.id)}'
    return ["", f"The agent needs {what}; reply with:", f"{_INDENT}{command}"]


def task_lines(task: Task, *, history: bool = False) -> list[str]:
    """A task: state, status message, artifacts, ids (and history when asked)."""
    lines = [f"{'state:':<10}{state_name(task.status.state)}"]
    if task.status.message is not None:
        lines.extend(message_lines(task.status.message))
    for artifact in task.artifacts:
        lines.extend(artifact_lines(artifact))
    if history and task.history:
        lines.append("history:")
        for message in task.history:
            who = "agent" if message.role == Role.AGENT else "user"
            lines.extend(_indent(message_lines(message, label=f"{who}:", width=7)))
    lines.append(f"{'task:':<10}{task.id}")
    if task.context_id:
        lines.append(f"{'context:':<10}{task.context_id}")
    return lines


def event_lines(event: StreamResponse) -> list[str]:
    """One streamed event, as it happens."""
    if event.task is not None:
        task = event.task
        lines = [
            f"task {task.id} {state_name(task.status.state)}"
            + (f" (context {task.context_id})" if task.context_id else "")
        ]
        if task.status.message is not None:
            lines.extend(message_lines(task.status.message))
        for artifact in task.artifacts:
            lines.extend(artifact_lines(artifact))
        return lines
    if event.status_update is not None:
        status = event.status_update.status
        name = state_name(status.state)
        if status.message is None:
            return [name]
        return message_lines(status.message, label=name, width=max(len(name) + 2, 16))
    if event.artifact_update is not None:
        update = event.artifact_update
        return artifact_lines(update.artifact, append=update.append)
    assert event.message is not None
    return message_lines(event.message)


def _when(timestamp: str | None) -> str:
    """A ProtoJSON timestamp as ``YYYY-MM-DD HH:MM:SS`` UTC (as given if unreadable)."""
    from datetime import UTC, datetime

    if not timestamp:
        return "-"
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


#: Narrowest a shortened CONTEXT column gets before it is left out.
_MIN_CONTEXT = 8


def task_table(
    tasks: Sequence[Task], *, artifacts: bool = False, width: int | None = None
) -> list[str]:
    """Tasks as aligned columns: id, state, last update (UTC), context (artifacts).

    ``width`` (a terminal's columns) shortens the context id with ``…`` to fit, and
    leaves it out when even a short one does not fit; task ids are never shortened
    (they are what ``accord task get`` takes). ``None``: no limit (e.g. a pipe).
    """
    if not tasks:
        return ["no tasks"]
    gap = "  "
    head = ("TASK", "STATE", "UPDATED")
    tail = ("ARTIFACTS",) if artifacts else ()
    rows = [
        (
            task.id,
            state_name(task.status.state),
            _when(task.status.timestamp),
            task.context_id or "-",
            *((str(len(task.artifacts)),) if artifacts else ()),
        )
        for task in tasks
    ]
    table = [(*head, "CONTEXT", *tail), *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    context = len(head)
    if width is not None:
        others = sum(w for i, w in enumerate(widths) if i != context)
        room = width - others - len(gap) * (len(widths) - 1)
        if room < widths[context]:
            if room >= _MIN_CONTEXT:
                widths[context] = room
                table = [
                    (
                        *row[:context],
                        _shorten(row[context], room),
                        *row[context + 1 :],
                    )
                    for row in table
                ]
            else:
                table = [(*row[:context], *row[context + 1 :]) for row in table]
                del widths[context]
    return [
        gap.join(
            cell.ljust(size) for cell, size in zip(row, widths, strict=True)
        ).rstrip()
        for row in table
    ]


def _shorten(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def card_lines(card: AgentCard) -> list[str]:
    """An agent card for people: identity, interfaces, capabilities, skills, security."""
    width = 15

    def row(label: str, value: str) -> str:
        return f"{label + ':':<{width}}{value}"

    lines = [f"{card.name} {card.version}".rstrip()]
    if card.description:
        lines.extend(_indent(card.description.splitlines()))
    if card.provider is not None:
        url = f" ({card.provider.url})" if card.provider.url else ""
        lines.append(row("provider", f"{card.provider.organization}{url}"))
    if card.documentation_url:
        lines.append(row("documentation", card.documentation_url))
    for i, interface in enumerate(card.supported_interfaces):
        extra = (
            f"A2A {interface.protocol_version}"
            if interface.protocol_version
            else "A2A 1.0 assumed: no protocolVersion"
        )
        if interface.tenant:
            extra += f", tenant {interface.tenant}"
        label = "interfaces" if i == 0 else ""
        value = f"{interface.protocol_binding:<10} {interface.url}  ({extra})"
        lines.append(f"{label + ':' if label else '':<{width}}{value}")
    caps = card.capabilities
    flags = [
        name
        for name, on in (
            ("streaming", caps.streaming),
            ("push notifications", caps.push_notifications),
            ("extended card", caps.extended_agent_card),
        )
        if on
    ]
    lines.append(row("capabilities", ", ".join(flags) or "none"))
    for extension in caps.extensions:
        need = " (required)" if extension.required else ""
        lines.append(row("extension", f"{extension.uri}{need}"))
    if card.default_input_modes:
        lines.append(row("input modes", ", ".join(card.default_input_modes)))
    if card.default_output_modes:
        lines.append(row("output modes", ", ".join(card.default_output_modes)))
    if card.security_schemes:
        for name, scheme in card.security_schemes.items():
            kinds = [k for k, v in to_builtins(scheme).items() if v is not None]
            lines.append(row("security", f"{name} ({', '.join(kinds) or 'unknown'})"))
        lines.extend(
            row("requires", to_json(requirement, compact=True))
            for requirement in card.security_requirements
        )
    else:
        lines.append(row("security", "none (anonymous access)"))
    lines.append(
        f"skills ({len(card.skills)}):"
        if card.skills
        else "skills:        none declared"
    )
    for skill in card.skills:
        title = f" — {skill.name}" if skill.name else ""
        lines.append(f"{_INDENT}{skill.id}{title}")
        if skill.description:
            lines.extend(_indent(skill.description.splitlines(), 2))
        if skill.tags:
            lines.append(f"{_INDENT * 2}tags: {', '.join(skill.tags)}")
        if skill.input_modes or skill.output_modes:
            modes = f"in {', '.join(skill.input_modes) or '-'}; out {', '.join(skill.output_modes) or '-'}"
            lines.append(f"{_INDENT * 2}modes: {modes}")
        if skill.examples:
            lines.append(f"{_INDENT * 2}examples:")
            lines.extend(f"{_INDENT * 3}- {example}" for example in skill.examples)
    return lines

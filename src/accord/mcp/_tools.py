"""The tools an A2A agent offers as an MCP server: one per skill, three for tasks.

A skill (spec §4.4.5 AgentSkill) becomes a tool named after its id (characters MCP
tool names do not allow become ``_``), described by its description, examples and
tags. Its input is text: ``message`` (sent as a text part), optionally ``data`` (a
JSON object, sent as a data part) and ``task_id`` / ``context_id`` to continue a
task, e.g. to answer the question of an INPUT_REQUIRED one. The skill's id travels
in the message's ``metadata.skill`` (a hint: A2A routes by content, spec §3.1.1).

Three more tools follow long tasks: ``send_message`` (any message, optionally
without waiting for the end: ``wait: false``), ``get_task`` and ``cancel_task``.

:data:`ARGUMENTS` is the one table of arguments: each tool's input schema and the
checks of :func:`parse` are derived from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_types import Tool, ToolAnnotations

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from accord.types import AgentSkill

__all__ = [
    "ARGUMENTS",
    "CANCEL_TASK",
    "GET_TASK",
    "SEND_MESSAGE",
    "Argument",
    "Arguments",
    "ToolArgumentError",
    "declare",
    "parse",
    "tool_name",
]

SEND_MESSAGE = "send_message"
GET_TASK = "get_task"
CANCEL_TASK = "cancel_task"
_TASK_TOOLS = frozenset({SEND_MESSAGE, GET_TASK, CANCEL_TASK})

#: What MCP tool names may contain (1 to 128 of these characters).
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class ToolArgumentError(ValueError):
    """A tool's arguments do not fit its input schema (reported as a tool error)."""


@dataclass(frozen=True, slots=True)
class Argument:
    """One tool argument: its JSON type and what it means."""

    name: str
    json_type: str
    description: str
    python: type | tuple[type, ...]


_MESSAGE = Argument("message", "string", "What to say to the agent, in words.", str)
_DATA = Argument(
    "data", "object", "Structured input, sent to the agent as a data part.", dict
)
_TASK = Argument(
    "task_id",
    "string",
    "Continue this task (e.g. answer the question of a task that needs input).",
    str,
)
_CONTEXT = Argument(
    "context_id", "string", "Continue this conversation (context id).", str
)
_SKILL = Argument("skill", "string", "The id of the skill the message is for.", str)
_WAIT = Argument(
    "wait",
    "boolean",
    "Wait until the task ends or needs input (default true); false returns at once "
    "with the task id, to follow with get_task.",
    bool,
)
_ID = Argument("task_id", "string", "The task's id.", str)
_HISTORY = Argument(
    "history_length", "integer", "How many recent messages of the task to return.", int
)

#: Per tool kind: (required arguments, optional arguments).
ARGUMENTS: dict[str, tuple[tuple[Argument, ...], tuple[Argument, ...]]] = {
    "skill": ((_MESSAGE,), (_DATA, _TASK, _CONTEXT)),
    SEND_MESSAGE: ((_MESSAGE,), (_DATA, _TASK, _CONTEXT, _SKILL, _WAIT)),
    GET_TASK: ((_ID,), (_HISTORY,)),
    CANCEL_TASK: ((_ID,), ()),
}

_DESCRIPTIONS = {
    SEND_MESSAGE: (
        "Send a message to the agent {agent}; with wait=false, return at once with "
        "the task id (follow it with get_task)."
    ),
    GET_TASK: "The state, status message and artifacts of a task of the agent {agent}.",
    CANCEL_TASK: "Cancel a task of the agent {agent}.",
}


@dataclass(frozen=True, slots=True)
class Arguments:
    """A tool call's arguments, checked against its kind's schema."""

    values: Mapping[str, Any]

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None


def _schema(kind: str) -> dict[str, Any]:
    required, optional = ARGUMENTS[kind]
    return {
        "type": "object",
        "properties": {
            a.name: {"type": a.json_type, "description": a.description}
            for a in (*required, *optional)
        },
        "required": [a.name for a in required],
        "additionalProperties": False,
    }


def tool_name(skill_id: str) -> str:
    """The MCP tool name of a skill id (disallowed characters become ``_``)."""
    return _NAME.sub("_", skill_id)[:128] or "skill"


def _skill_description(skill: AgentSkill) -> str:
    lines = [skill.description or skill.name]
    if skill.examples:
        lines.append("Examples: " + "; ".join(skill.examples))
    if skill.tags:
        lines.append("Tags: " + ", ".join(skill.tags))
    return "\n".join(lines)


def declare(agent: str, skills: Sequence[AgentSkill]) -> dict[str, tuple[Tool, str]]:
    """The tools of an agent: name -> (tool, skill id; ``""`` for the task tools).

    A skill whose tool name is taken (by a task tool or another skill) gets a
    numbered name (``book_2``).
    """
    tools: dict[str, tuple[Tool, str]] = {}
    for name in (SEND_MESSAGE, GET_TASK, CANCEL_TASK):
        tools[name] = (
            Tool(
                name=name,
                description=_DESCRIPTIONS[name].format(agent=agent),
                input_schema=_schema(name),
                annotations=ToolAnnotations(read_only_hint=name == GET_TASK),
            ),
            "",
        )
    for skill in skills:
        base = name = tool_name(skill.id)
        n = 1
        while name in tools:
            n += 1
            name = f"{base[:120]}_{n}"
        tools[name] = (
            Tool(
                name=name,
                title=skill.name or None,
                description=_skill_description(skill),
                input_schema=_schema("skill"),
            ),
            skill.id,
        )
    return tools


def parse(kind: str, arguments: Mapping[str, Any] | None) -> Arguments:
    """Check ``arguments`` against the schema of ``kind``.

    Raises:
        ToolArgumentError: a required argument is missing, one is unknown, or one
            has the wrong JSON type; the message names it.
    """
    required, optional = ARGUMENTS[kind if kind in _TASK_TOOLS else "skill"]
    values = dict(arguments or {})
    known = {a.name: a for a in (*required, *optional)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ToolArgumentError(
            f"unknown argument(s) {', '.join(unknown)}; this tool takes "
            + ", ".join(known)
        )
    for argument in required:
        if argument.name not in values:
            raise ToolArgumentError(f"the argument {argument.name!r} is required")
    for name, value in values.items():
        argument = known[name]
        # bool is an int in Python: an integer argument must not take true/false.
        wrong_bool = isinstance(value, bool) and argument.python is not bool
        if wrong_bool or not isinstance(value, argument.python):
            raise ToolArgumentError(
                f"the argument {name!r} must be a JSON {argument.json_type}"
            )
    return Arguments(values)

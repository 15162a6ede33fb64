"""How the SQLite store lays a Task out in rows, and what an update must rewrite.

Theory of operation. Writing the whole snapshot on every change makes streaming an
artifact quadratic: each chunk appended to a 6 MB artifact would re-encode and rewrite
6 MB. So a task (layout 1) is kept as:

* ``tasks.body``: the task without ``history`` and ``artifacts`` (the *head*);
* ``task_messages``: one row per history message, by index;
* ``task_artifacts``: one row per artifact, by index, holding the artifact with only its
  first part (an Artifact always has at least one part, so the row decodes on its own);
* ``task_parts``: the artifact's remaining parts, one row each, by index (1, 2, ...).

:func:`plan` compares the snapshot last written with the new one and returns the row
operations that turn one into the other. Values are immutable and the runtime derives
each snapshot from the previous one, so unchanged messages and parts are the *same
objects*: an identity check finds the common prefix, and appending a chunk costs one
part row plus the head. Anything that is not a pure append (a replaced artifact, a
shortened history) truncates from the first difference and rewrites the rest, so the
result is always exactly the new snapshot. Without a previous snapshot (after a
restart, or for a row written by schema version 1, whose ``body`` holds the whole task)
the plan rewrites everything.

This module is pure: it plans, :mod:`accord.stores.sqlite` executes.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.types import replace

if TYPE_CHECKING:
    from collections.abc import Sequence

    from accord.types import Artifact, Message, Part, Task

__all__ = ["LAYOUT_SPLIT", "LAYOUT_WHOLE", "ArtifactRows", "Plan", "assemble", "plan"]

#: ``tasks.layout`` of a row whose ``body`` is the whole snapshot (schema version 1).
LAYOUT_WHOLE = 0
#: ``tasks.layout`` of a row split as described above.
LAYOUT_SPLIT = 1


@dataclass(frozen=True, slots=True)
class ArtifactRows:
    """Writes for the artifact at ``index``: its head row and its part rows."""

    index: int
    #: The artifact with only its first part, to (re)write; None keeps the stored row.
    head: Artifact | None
    #: Delete part rows with index >= this first (None: delete nothing).
    truncate_parts: int | None
    #: Index of the first part in ``parts`` (part rows start at 1).
    first_part: int
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """Row operations that turn the stored layout of a task into a new snapshot."""

    head: Task
    #: Delete everything below the head first (a full rewrite).
    rewrite: bool
    #: Delete message rows with index >= this (None: delete nothing).
    truncate_history: int | None
    first_message: int
    messages: tuple[Message, ...]
    #: Delete artifact (and part) rows with index >= this (None: delete nothing).
    truncate_artifacts: int | None
    artifacts: tuple[ArtifactRows, ...]


def _shared_prefix(old: Sequence[object], new: Sequence[object], start: int) -> int:
    """Length of the common prefix of ``old`` and ``new`` by identity, from ``start``."""
    end = min(len(old), len(new))
    # Fast path, in C: the whole overlap is shared (an append).
    if all(map(operator.is_, old[start:end], new[start:end])):
        return end
    i = start
    while old[i] is new[i]:
        i += 1
    return i


def _head(task: Task) -> Task:
    if task.history or task.artifacts:
        return replace(task, history=(), artifacts=())
    return task


def _artifact_head(artifact: Artifact) -> Artifact:
    if len(artifact.parts) == 1:
        return artifact
    return replace(artifact, parts=artifact.parts[:1])


def _artifact_rows(index: int, old: Artifact | None, new: Artifact) -> ArtifactRows:
    if old is None:
        return ArtifactRows(index, _artifact_head(new), None, 1, new.parts[1:])
    head = None if _artifact_head(old) == _artifact_head(new) else _artifact_head(new)
    # Part rows hold parts[1:]; parts[0] lives in the head row.
    keep = _shared_prefix(old.parts, new.parts, 1) if len(old.parts) > 1 else 1
    truncate = keep if keep < len(old.parts) else None
    return ArtifactRows(index, head, truncate, keep, new.parts[keep:])


def plan(old: Task | None, new: Task) -> Plan:
    """The row operations that turn the layout of ``old`` into that of ``new``.

    ``old`` is the snapshot the rows currently hold, or None when unknown: then the
    plan deletes every row below the head and writes the whole of ``new``.
    """
    if old is None:
        return Plan(
            head=_head(new),
            rewrite=True,
            truncate_history=None,
            first_message=0,
            messages=new.history,
            truncate_artifacts=None,
            artifacts=tuple(
                _artifact_rows(i, None, a) for i, a in enumerate(new.artifacts)
            ),
        )
    kept = _shared_prefix(old.history, new.history, 0)
    rows: list[ArtifactRows] = []
    for i, artifact in enumerate(new.artifacts):
        previous = old.artifacts[i] if i < len(old.artifacts) else None
        if artifact is not previous:
            rows.append(_artifact_rows(i, previous, artifact))
    return Plan(
        head=_head(new),
        rewrite=False,
        truncate_history=kept if kept < len(old.history) else None,
        first_message=kept,
        messages=new.history[kept:],
        truncate_artifacts=(
            len(new.artifacts) if len(new.artifacts) < len(old.artifacts) else None
        ),
        artifacts=tuple(rows),
    )


def assemble(
    head: Task,
    messages: Sequence[Message],
    artifacts: Sequence[tuple[Artifact, Sequence[Part]]],
) -> Task:
    """The task whose split rows are ``head``, ``messages`` and artifacts with parts."""
    if not messages and not artifacts:
        return head
    return replace(
        head,
        history=tuple(messages),
        artifacts=tuple(
            replace(first, parts=first.parts + tuple(rest)) if rest else first
            for first, rest in artifacts
        ),
    )

"""``accord send URL TEXT``: send a message; show the task (blocking or streamed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import IncompleteStreamError

from .._errors import UsageError, report

if TYPE_CHECKING:
    import argparse

    from accord.client import EventStream
    from accord.types import Message, Task

__all__ = ["follow", "run"]


def run(args: argparse.Namespace) -> int:
    """Send the message; the exit code follows the task's final state."""
    import anyio

    from .._input import STDIN, Source, read_json, read_text

    if args.text is None and args.data is None:
        raise UsageError("accord send: give the message TEXT, --data JSON, or both")
    if args.text == STDIN and args.data == STDIN:
        raise UsageError("accord send: only one of TEXT and --data can read stdin (-)")
    # Read before connecting: a missing file fails fast, and stdin is not held open.
    if args.text is not None:
        args.text = read_text(args.text)
    if isinstance(args.data, Source):
        args.data = read_json(args.data)
    return anyio.run(_send, args)


def _message(args: argparse.Namespace) -> Message:
    import uuid

    from accord.types import Message, Part, Role

    parts = []
    if args.text:
        parts.append(Part(text=args.text))
    if args.data is not None:
        parts.append(Part(data=args.data, media_type="application/json"))
    if not parts:  # TEXT was "" and no --data: still a (empty) text message
        parts.append(Part(text=""))
    return Message(
        message_id=str(uuid.uuid4()),
        role=Role.USER,
        parts=tuple(parts),
        task_id=args.task_id or "",
        context_id=args.context_id or "",
    )


def exit_code(task: Task | None) -> int:
    """1 when the task ended FAILED/REJECTED/CANCELED, else 0."""
    from .._output import BAD_END_STATES

    return 1 if task is not None and task.status.state in BAD_END_STATES else 0


def _unfinished(args: argparse.Namespace, task: Task) -> int:
    """A blocking answer whose task still runs: say so, and do not exit 0.

    A blocking SendMessage returns once the task is terminal or interrupted (spec
    §3.1.1); an answer before that (a server that stopped waiting) leaves the
    outcome unknown.
    """
    import shlex
    import sys

    from .._errors import EXIT_FAILED
    from .._output import INTERRUPTED_STATES, TERMINAL_STATES

    state = task.status.state
    if state in TERMINAL_STATES or state in INTERRUPTED_STATES:
        return exit_code(task)
    url, task_id = shlex.quote(args.url), shlex.quote(task.id)
    print(
        f"accord: the agent answered while task {task.id} was still {state.name}; "
        f"its outcome is unknown — follow it with `accord task subscribe {url} "
        f"{task_id}` or check it with `accord task get {url} {task_id}`",
        file=sys.stderr,
    )
    return EXIT_FAILED


async def _send(args: argparse.Namespace) -> int:
    from accord.types import Task

    from .._output import Printer, continue_hint, message_lines, task_lines, to_json
    from ._remote import connect

    out = Printer()
    async with await connect(args) as client:
        message = _message(args)
        if args.stream:
            async with client.send_streaming_message(message) as stream:
                return await follow(stream, args)
        reply = await client.send_message(message)
    if args.json:
        out.line(
            to_json({"task": reply} if isinstance(reply, Task) else {"message": reply})
        )
        return _unfinished(args, reply) if isinstance(reply, Task) else 0
    if isinstance(reply, Task):
        out.lines([*task_lines(reply), *continue_hint(args.url, reply)])
        return _unfinished(args, reply)
    out.lines(message_lines(reply))
    if reply.context_id:
        out.line(f"{'context:':<10}{reply.context_id}")
    return 0


async def follow(
    stream: EventStream, args: argparse.Namespace, *, until_interrupted: bool = False
) -> int:
    """Print a stream's events as they arrive; return the exit code of its end state.

    Used by ``send --stream`` and ``task subscribe``. With ``until_interrupted``, stop
    as soon as the task waits for the client (INPUT_REQUIRED / AUTH_REQUIRED): the
    stream would stay open (spec §3.1.6) while nothing can happen until the user
    answers, so the hint of how to answer is printed instead.
    """
    from accord.types import replace

    from .._output import (
        INTERRUPTED_STATES,
        Printer,
        continue_hint,
        event_lines,
        to_json,
    )

    out = Printer()
    task: Task | None = None
    waiting = None
    try:
        async for event in stream:
            if args.json:
                out.line(to_json(event, compact=True))
            else:
                out.lines(event_lines(event))
            if event.task is not None:
                task = event.task
            elif task is not None and event.status_update is not None:
                task = replace(task, status=event.status_update.status)
            if task is not None and task.status.state in INTERRUPTED_STATES:
                if until_interrupted:
                    break
                if getattr(args, "keep_open", False) and waiting != task.status.state:
                    waiting = task.status.state
                    report(
                        f"accord: the task waits for the client ({waiting.name}); "
                        "following until it ends (Ctrl-C to stop)"
                    )
    except IncompleteStreamError as exc:
        return _cut(args, exc)
    if task is not None and not args.json:
        out.lines(
            [
                f"{'task:':<10}{task.id}",
                *([f"{'context:':<10}{task.context_id}"] if task.context_id else []),
                *continue_hint(args.url, task),
            ]
        )
    return exit_code(task)


def _cut(args: argparse.Namespace, exc: IncompleteStreamError) -> int:
    """A stream that ended before its task did: say what happened and how to go on."""
    import shlex
    import sys

    from accord.types import TaskState

    from .._errors import EXIT_CONNECT

    url = shlex.quote(args.url)
    if not exc.task_id:
        print(
            f"accord: the stream from {args.url} ended before it reported a task "
            "(the connection closed early; the server may have stopped)",
            file=sys.stderr,
        )
        return EXIT_CONNECT
    state = TaskState(exc.state).name if exc.state is not None else "unknown"
    task_id = shlex.quote(exc.task_id)
    resume = (
        f" --last-event-id {shlex.quote(exc.last_event_id)}"
        if exc.last_event_id
        else ""
    )
    print(
        f"accord: the stream ended while task {exc.task_id} was still {state}: the "
        "connection closed before the task ended (the server may have stopped); its "
        f"outcome is unknown — check it with `accord task get {url} {task_id}` or "
        f"follow it with `accord task subscribe {url} {task_id}{resume}`",
        file=sys.stderr,
    )
    return EXIT_CONNECT

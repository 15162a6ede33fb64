"""``accord task get|list|cancel|subscribe``: inspect and manage tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from accord.client import Client

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Run the task action named by ``args.action``."""
    import anyio

    return anyio.run(_run, args)


async def _run(args: argparse.Namespace) -> int:
    from ._remote import connect

    async with await connect(args) as client:
        if args.action == "get":
            return await _get(client, args)
        if args.action == "list":
            return await _list(client, args)
        if args.action == "cancel":
            return await _cancel(client, args)
        return await _subscribe(client, args)


async def _get(client: Client, args: argparse.Namespace) -> int:
    from .._output import Printer, continue_hint, task_lines, to_json

    task = await client.get_task(args.task_id, history_length=args.history)
    out = Printer()
    if args.json:
        out.line(to_json(task))
    else:
        out.lines(
            [
                *task_lines(task, history=bool(args.history)),
                *continue_hint(args.url, task),
            ]
        )
    return 0


async def _list(client: Client, args: argparse.Namespace) -> int:
    from accord.types import TaskState

    from .._output import Printer, task_table, to_json

    page = await client.list_tasks(
        context_id=args.context_id,
        status=TaskState[args.status] if args.status else None,
        page_size=args.page_size,
        page_token=args.page_token,
        include_artifacts=args.include_artifacts or None,
    )
    out = Printer()
    if args.json:
        out.line(to_json(page))
        return 0
    lines = task_table(
        page.tasks, artifacts=args.include_artifacts, width=_terminal_width()
    )
    shown = f"{len(page.tasks)} of {page.total_size} task(s)"
    if page.next_page_token:
        shown += f"; next page: --page-token {page.next_page_token}"
    out.lines([*lines, shown])
    return 0


def _terminal_width() -> int | None:
    """The terminal's columns when stdout is one (else ``None``: no limit)."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


async def _cancel(client: Client, args: argparse.Namespace) -> int:
    from .._output import Printer, task_lines, to_json

    task = await client.cancel_task(args.task_id)
    if args.json:
        Printer().line(to_json(task))
    else:
        Printer().lines(task_lines(task))
    return 0


async def _subscribe(client: Client, args: argparse.Namespace) -> int:
    import sys

    from accord.errors import UnsupportedOperationError
    from accord.types import StreamResponse

    from .._output import TERMINAL_STATES, Printer, task_lines, to_json
    from .send import exit_code, follow

    try:
        async with client.subscribe(
            args.task_id, last_event_id=args.last_event_id
        ) as stream:
            return await follow(stream, args, until_interrupted=not args.keep_open)
    except UnsupportedOperationError:
        # Spec §3.1.6: a terminal task cannot be subscribed to; show how it ended.
        task = await client.get_task(args.task_id)
        if task.status.state not in TERMINAL_STATES:
            raise
    print(
        f"accord: task {task.id} has already ended ({task.status.state.name}); "
        "showing its final state",
        file=sys.stderr,
    )
    out = Printer()
    if args.json:
        out.line(to_json(StreamResponse(task=task), compact=True))
    else:
        out.lines(task_lines(task))
    return exit_code(task)

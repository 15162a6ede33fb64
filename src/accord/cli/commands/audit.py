"""``accord audit``: read, export, verify and trim the audit trail of a task database.

The trail is what an agent served with ``accord serve --audit`` (or a store made with
``audit=True``) records: one entry per operation and per task state change, chained by
hash per tenant (:mod:`accord.stores.audit`). The commands work on the database
directly (``--db``, a SQLite file or a ``postgresql://`` URL), for the operator:

* ``accord audit`` prints the entries, oldest first, filtered by ``--task``,
  ``--context``, ``--tenant`` and ``--since``; ``--json`` writes JSON Lines (one entry
  per line: every record field and its ``seq``, ``prev`` and ``hash``), the export
  format; ``--follow`` keeps printing new entries as they are appended until Ctrl-C.
* ``accord audit verify`` checks every chain (or ``--tenant``'s) and names the first
  broken link: exit 1 when one is broken. ``--file`` checks a JSON Lines export
  instead (an export carries no chain head, so deleting its last lines goes unseen).
* ``accord audit purge --older-than DAYS`` deletes old entries in batches, keeping
  each chain verifiable from a checkpoint.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._errors import EXIT_FAILED, EXIT_NOT_FOUND, UsageError, report
from .db import shown_db

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from accord.stores.audit import AuditEntry, AuditReport, AuditStore

__all__ = ["FOLLOW_INTERVAL", "add_audit_parsers", "entry_line", "run", "since"]

#: Seconds between two reads of ``--follow``.
FOLLOW_INTERVAL = 0.5

_RELATIVE = re.compile(r"\A(\d+)([smhd])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def since(text: str) -> str:
    """``--since``: an RFC 3339 time, or a span back from now (``90s``, ``15m``,
    ``2h``, ``7d``), as a canonical timestamp.

    Raises:
        ValueError: neither.
    """
    from accord.types import format_timestamp, normalize_timestamp

    match = _RELATIVE.match(text.strip())
    if match:
        span = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return format_timestamp(datetime.now(UTC) - span)
    try:
        return normalize_timestamp(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give RFC 3339 (2025-01-31T12:00:00Z) or a span "
            "back from now (90s, 15m, 2h, 7d)"
        ) from None


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise ValueError(f"{text!r} is not a number of days (e.g. 90, or 0.5)")
    return days


def add_audit_parsers(commands: Any) -> None:
    """Add ``audit``, ``audit verify`` and ``audit purge`` to ``accord``'s commands."""
    import argparse

    show = commands.add_parser(
        "audit",
        help="show or export the audit trail (accord serve --audit); "
        "`audit verify`, `audit purge`",
        description="Print the audit trail of --db, oldest first. Also: `accord "
        "audit verify` (check the hash chains) and `accord audit purge` (retention).",
    )
    _db_option(show)
    show.add_argument("--task", default="", metavar="ID", help="only this task")
    show.add_argument("--context", default="", metavar="ID", help="only this context")
    show.add_argument(
        "--tenant", default=None, metavar="TENANT", help="only this tenant"
    )
    show.add_argument(
        "--since",
        type=_typed(since),
        default=None,
        metavar="TIME",
        help="only entries at or after TIME: RFC 3339, or back from now (15m, 2h, 7d)",
    )
    show.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing new entries as they are recorded (Ctrl-C stops)",
    )
    show.add_argument(
        "--json", action="store_true", help="JSON Lines: one entry per line (export)"
    )
    show.set_defaults(module="audit", action="show")

    verify = commands.add_parser(
        "audit verify",
        help=argparse.SUPPRESS,
        description="Check the audit trail's hash chains; exit 1 at a broken link.",
    )
    source = verify.add_mutually_exclusive_group()
    source.add_argument(
        "--db",
        default="accord.db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default: accord.db)",
    )
    source.add_argument(
        "--file", metavar="JSONL", help="verify an export (accord audit --json) instead"
    )
    verify.add_argument(
        "--tenant", default=None, metavar="TENANT", help="only this tenant's chain"
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(module="audit", action="verify")

    purge = commands.add_parser(
        "audit purge",
        help=argparse.SUPPRESS,
        description="Delete audit entries older than --older-than days (retention); "
        "each chain keeps the hash of the last one deleted, so it still verifies.",
    )
    _db_option(purge)
    purge.add_argument(
        "--older-than",
        type=_typed(_days),
        required=True,
        metavar="DAYS",
        help="delete entries older than this many days",
    )
    purge.add_argument("--json", action="store_true", help="print the result as JSON")
    purge.set_defaults(module="audit", action="purge")


def _typed(fn: Any) -> Any:
    import argparse

    def parse(text: str) -> Any:
        try:
            return fn(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default="accord.db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default: accord.db)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the ``accord audit`` action ``args.action``."""
    if args.action == "verify" and args.file:
        return _verify_file(args)
    from accord.stores import is_postgres_url

    if not is_postgres_url(args.db) and not os.path.exists(args.db):
        report(
            f"accord: no database {args.db}: give --db the SQLite file or the "
            "postgresql:// URL the agent was served with (`accord serve --audit "
            "--db ...`)"
        )
        return EXIT_NOT_FOUND
    import anyio

    if getattr(args, "follow", False):
        _take_ctrl_c()
    try:
        code: int = anyio.run(_run_async, args)
    except KeyboardInterrupt:  # --follow ends with Ctrl-C: a normal end
        return 0
    return code


def _take_ctrl_c() -> None:
    """Let Ctrl-C end ``--follow`` as it says, also in a process started with SIGINT
    ignored (a background job of a shell script inherits that, and Python then keeps
    ignoring it)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


async def _run_async(args: argparse.Namespace) -> int:
    from accord.stores import AuditStore, open_store

    store = open_store(args.db)
    assert isinstance(store, AuditStore)
    async with store:
        if args.action == "verify":
            return await _verify(store, args)
        if args.action == "purge":
            return await _purge(store, args)
        return await _show(store, args)


async def _show(store: AuditStore, args: argparse.Namespace) -> int:
    import anyio

    from accord.stores import AuditQuery

    from .._output import Printer

    out = Printer()
    query = AuditQuery(
        tenant=args.tenant,
        task_id=args.task,
        context_id=args.context,
        since=args.since or "",
        limit=500,
    )
    printed = False
    while True:
        batch = await store.audit_entries(query)
        out.lines(_json_line(e) if args.json else entry_line(e) for e in batch)
        printed = printed or bool(batch)
        if batch:
            query = _after(query, batch[-1].id)
            if len(batch) == query.limit:
                continue
        if not args.follow:
            break
        await anyio.sleep(FOLLOW_INTERVAL)
    if not printed and not args.json:
        report(f"no audit entries in {shown_db(args.db)} match")
    return 0


def _after(query: Any, entry_id: int) -> Any:
    from dataclasses import replace

    return replace(query, after=entry_id)


def _json_line(entry: AuditEntry) -> str:
    return json.dumps(entry.to_json(), ensure_ascii=False, separators=(",", ":"))


def entry_line(entry: AuditEntry) -> str:
    """One entry for people: time, tenant, what, task, outcome, who, trace."""
    r = entry.record
    if r.kind == "state":
        what = f"state {_short(r.previous_state) or 'new'} -> {_short(r.state)}"
    else:
        what = f"{r.kind} {r.operation}"
    parts = [
        r.time,
        f"tenant {r.tenant or '-'}",
        f"#{entry.seq}",
        what,
        f"task {r.task_id or '-'}",
        f"context {r.context_id or '-'}",
        r.outcome if r.kind != "state" else "",
        f"by {r.principal}" if r.principal else "",
        f"trace {r.trace_id}" if r.trace_id else "",
        f"card {r.card_hash[:12]}" if r.card_hash else "",
    ]
    return "  ".join(p for p in parts if p)


def _short(state: str) -> str:
    return state.removeprefix("TASK_STATE_")


async def _verify(store: AuditStore, args: argparse.Namespace) -> int:
    from accord.stores import verify_store

    reports = await verify_store(store, tenant=args.tenant)
    return _say_verified(reports, shown_db(args.db), args.json)


def _say_verified(reports: list[AuditReport], shown: str, as_json: bool) -> int:
    from .._output import Printer

    out = Printer()
    broken = [r for r in reports if r.broken is not None]
    if as_json:
        out.line(
            json.dumps(
                {
                    "source": shown,
                    "ok": not broken,
                    "chains": [
                        {
                            "tenant": r.tenant,
                            "entries": r.entries,
                            "headSeq": r.head_seq,
                            "headHash": r.head_hash,
                            "broken": None
                            if r.broken is None
                            else {
                                "seq": r.broken.seq,
                                "id": r.broken.id,
                                "reason": r.broken.reason,
                            },
                        }
                        for r in reports
                    ],
                }
            )
        )
    else:
        if not reports:
            out.line(f"no audit entries in {shown}")
        for r in reports:
            if r.broken is None:
                out.line(
                    f"tenant {r.tenant or '-'}: intact, {r.entries} entries, head "
                    f"#{r.head_seq} {r.head_hash}"
                )
            else:
                at = f" (entry id {r.broken.id})" if r.broken.id else ""
                out.line(
                    f"tenant {r.tenant or '-'}: BROKEN at #{r.broken.seq}{at}: "
                    f"{r.broken.reason}"
                )
    if broken:
        report(
            f"accord: the audit trail of {shown} was altered: {len(broken)} chain(s) "
            "broken; see the first broken link above, and compare with a backup or "
            "an export"
        )
        return EXIT_FAILED
    return 0


def _verify_file(args: argparse.Namespace) -> int:
    from accord.stores import verify_entries

    chains: dict[str, list[AuditEntry]] = {}
    try:
        for number, entry in _read_export(args.file):
            del number
            chains.setdefault(entry.record.tenant, []).append(entry)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    reports = [
        verify_entries(tenant, entries)
        for tenant, entries in sorted(chains.items())
        if args.tenant is None or tenant == args.tenant
    ]
    return _say_verified(reports, args.file, args.json)


def _read_export(path: str) -> Iterator[tuple[int, AuditEntry]]:
    from accord.stores import AuditEntry

    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield number, AuditEntry.from_json(json.loads(line))
            except (ValueError, TypeError, AttributeError):
                raise UsageError(
                    f"{path} line {number} is not an audit entry (JSON Lines of "
                    "`accord audit --json`)"
                ) from None


async def _purge(store: AuditStore, args: argparse.Namespace) -> int:
    from accord.types import format_timestamp

    from .._output import Printer

    cutoff = format_timestamp(datetime.now(UTC) - timedelta(days=args.older_than))
    deleted = await store.purge_audit(older_than=cutoff)
    out = Printer()
    if args.json:
        out.line(json.dumps({"deleted": deleted, "olderThan": cutoff}))
    else:
        out.line(
            f"deleted {deleted} audit entries older than {cutoff} from "
            f"{shown_db(args.db)}"
        )
    return 0

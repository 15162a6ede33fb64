"""``accord push dead`` and ``accord push revive``: the webhooks whose deliveries were
given up, and bringing one back (:mod:`accord.server.push.delivery`).

A config is dead-lettered after the engine's ``give_up_after`` failed attempts in a
row; it keeps its place in the task's event log, so a revived config resumes with the
first event it did not deliver. Both commands work on the database directly (``--db``,
a SQLite file or a ``postgresql://`` URL), across owners: they are for the operator,
not for partners. The configs stay sealed: neither command needs the key, and no
webhook credential is ever printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import EXIT_NOT_FOUND, report
from .db import shown_db

if TYPE_CHECKING:
    import argparse

__all__ = ["add_dead_letter_parsers", "run"]


def add_dead_letter_parsers(actions: Any) -> None:
    """Add ``dead`` and ``revive`` to ``accord push``'s actions."""
    dead = actions.add_parser(
        "dead", help="list the webhooks whose deliveries were given up"
    )
    _db_options(dead)
    dead.add_argument(
        "--limit", type=int, default=100, metavar="N", help="at most N (default: 100)"
    )
    dead.add_argument("--json", action="store_true", help="print them as JSON")
    dead.set_defaults(module="push_dead", action="dead")
    revive = actions.add_parser(
        "revive", help="deliver a dead-lettered webhook's events again"
    )
    revive.add_argument("task_id", metavar="TASK_ID")
    revive.add_argument("config_id", metavar="CONFIG_ID")
    _db_options(revive)
    revive.add_argument("--json", action="store_true", help="print the result as JSON")
    revive.set_defaults(module="push_dead", action="revive")


def _db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default="accord.db",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (default: accord.db)",
    )
    parser.add_argument(
        "--tenant", default="", metavar="TENANT", help="the tenant (default: none)"
    )


def run(args: argparse.Namespace) -> int:
    """List or revive dead-lettered push configs of ``args.db``."""
    import anyio

    from accord.stores import open_store
    from accord.stores.base import PushConfigStore, Scope

    from .._output import Printer, to_json

    scope = Scope(tenant=args.tenant, owner=None)
    out = Printer()
    shown = shown_db(args.db)

    async def work() -> Any:
        store = open_store(args.db)
        assert isinstance(store, PushConfigStore)
        async with store:
            if args.action == "dead":
                return await store.dead_push_configs(scope=scope, limit=args.limit)
            return await store.revive_push_config(
                args.task_id, args.config_id, scope=scope
            )

    result = anyio.run(work)
    if args.action == "revive":
        if args.json:
            out.line(to_json({"revived": bool(result)}))
        if not result:
            report(
                f"accord: no dead-lettered push config {args.config_id} of task "
                f"{args.task_id} in {shown} (tenant {args.tenant!r}); list them with "
                "`accord push dead`"
            )
            return EXIT_NOT_FOUND
        if not args.json:
            out.line(f"revived push config {args.config_id} of task {args.task_id}")
        return 0
    if args.json:
        out.line(
            to_json(
                [
                    {
                        "taskId": r.task_id,
                        "configId": r.config_id,
                        "tenant": r.tenant,
                        "owner": r.owner,
                        "failures": r.failures,
                        "deliveredSeq": r.delivered_seq,
                        "reason": r.dead_reason,
                    }
                    for r in result
                ]
            )
        )
    elif not result:
        out.line(f"no dead-lettered push configs in {shown}")
    else:
        for r in result:
            out.line(
                f"task {r.task_id}  config {r.config_id}  owner {r.owner or '-'}  "
                f"delivered up to event {r.delivered_seq}: {r.dead_reason}"
            )
    return 0

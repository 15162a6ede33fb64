"""``accord db migrate``: create or upgrade the SQLite task database."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """Apply the pending migrations to ``args.db`` and say what was applied."""
    from accord.stores import migrate

    from .._output import Printer, to_json

    applied = migrate(args.db)
    out = Printer()
    if args.json:
        out.line(to_json({"db": args.db, "applied": applied}))
    elif applied:
        out.lines(
            f"applied migration {version:04d} to {args.db}" for version in applied
        )
    else:
        out.line(f"{args.db} is up to date; no migrations to apply")
    return 0

"""``accord db migrate``: create or upgrade the task database (SQLite or PostgreSQL).

``--db`` is a SQLite file or a ``postgresql://`` URL; a URL's password is never
printed. On PostgreSQL several instances may migrate at once: an advisory lock makes
each migration apply exactly once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

__all__ = ["run", "shown_db"]

# ``scheme://user:password@``: the password is the part to hide.
_PASSWORD = re.compile(r"\A([a-z]+://[^:/@]*:)[^@]*@")


def run(args: argparse.Namespace) -> int:
    """Apply the pending migrations to ``args.db`` and say what was applied."""
    from accord.stores import migrate

    from .._output import Printer, to_json

    applied = migrate(args.db)
    shown = shown_db(args.db)
    out = Printer()
    if args.json:
        out.line(to_json({"db": shown, "applied": applied}))
    elif applied:
        out.lines(f"applied migration {version:04d} to {shown}" for version in applied)
    else:
        out.line(f"{shown} is up to date; no migrations to apply")
    return 0


def shown_db(db: str) -> str:
    """``db`` as it may be printed: a URL's password replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", db)

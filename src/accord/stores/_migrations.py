"""The migration files shipped with Accord: ``_sql/<dialect>/NNNN_name.sql``.

Both SQL stores number their migrations 1..n and record the versions applied in a
``schema_version`` table; this module finds and orders the files for either.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from accord.errors import StoreError

__all__ = ["shipped"]

_FILE_NAME = re.compile(r"(?P<version>\d{4})_[A-Za-z0-9_]+\.sql\Z")


@cache
def shipped(dialect: str) -> tuple[tuple[int, str], ...]:
    """Return ``(version, sql)`` of every ``dialect`` migration shipped, in order.

    Raises:
        StoreError: the files are not numbered 1..n (a packaging bug).
    """
    folder = resources.files("accord.stores") / "_sql" / dialect
    found: list[tuple[int, str]] = []
    for item in folder.iterdir():
        match = _FILE_NAME.match(item.name)
        if match is not None:
            found.append((int(match["version"]), item.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):  # pragma: no cover - packaging bug
        raise StoreError(
            f"Accord's {dialect} migrations are not numbered 1..n: {versions}"
        )
    return tuple(found)

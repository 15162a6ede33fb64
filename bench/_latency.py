"""What the PostgreSQL latency scripts share: a scratch schema and a percentile line."""

from __future__ import annotations

import statistics
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg

from accord.stores import migrate

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """A migrated schema of its own on the database at ``url``; its URL; dropped after."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}".encode())
    try:
        scoped = f"{url}?options={quote(f'-csearch_path={schema}')}"
        migrate(scoped)
        yield scoped
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


def percentile_line(name: str, values: list[float], width: int = 22) -> str:
    """``name  p50 … ms  p99 … ms  max … ms`` of ``values`` (milliseconds)."""
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{name:<{width}} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {ordered[-1]:6.2f} ms"

"""The shared Struct base and the ProtoJSON timestamp rules.

Every wire type derives from :class:`A2AStruct`: frozen (an update is a new value),
keyword-only (fields are declared in proto field-number order, so the key order of our
output matches the reference encoder's), camelCase JSON names, defaults omitted
(ProtoJSON, spec §5.5), and unknown fields refused on the fast decode path so that
``accord.types._codec`` can fall back to the lenient ProtoJSON path (snake_case names,
enum numbers, unknown fields ignored per spec §5.7).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import msgspec

__all__ = ["A2AStruct", "Timestamp", "format_timestamp", "normalize_timestamp", "parse_timestamp"]


class A2AStruct(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    rename="camel",
    omit_defaults=True,
    forbid_unknown_fields=True,
    gc=False,
):
    """Base of every A2A wire value."""


#: An RFC 3339 timestamp in UTC with millisecond precision, e.g.
#: ``2025-01-02T03:04:05.678Z`` (spec §5.6.1: UTC ``Z`` only, SHOULD use milliseconds).
#: Canonical strings are fixed-width, so they also sort chronologically.
Timestamp = Annotated[str, msgspec.Meta(description="RFC 3339 UTC timestamp")]

_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)[Tt](?P<time>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>[Zz]|[+-]\d\d:\d\d)\Z"
)


def format_timestamp(moment: datetime) -> str:
    """Return the canonical ProtoJSON form of an aware ``datetime``."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (any offset, 0-9 fraction digits) to an aware datetime.

    Raises:
        ValueError: when the text is not an RFC 3339 timestamp.
    """
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    tz = match["tz"]
    tz = "+00:00" if tz in ("Z", "z") else tz
    return datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{tz}")


def normalize_timestamp(text: str) -> str:
    """Return ``text`` in canonical form (UTC, ``Z``, exactly three fraction digits)."""
    if _CANONICAL.match(text):
        return text
    return format_timestamp(parse_timestamp(text))

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

__all__ = [
    "TIMESTAMP_PATTERN",
    "A2AStruct",
    "Timestamp",
    "format_timestamp",
    "normalize_timestamp",
    "parse_timestamp",
]


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


#: The RFC 3339 ``date-time`` syntax a timestamp must have on input (any offset, 0-9
#: fraction digits; ProtoJSON parsers accept offsets and normalise them, spec §5.6.1).
#: Field ranges are checked here so that a decode error can name the timestamp field;
#: calendar checks (Feb 30) and the 0001-9999 range are left to :func:`parse_timestamp`.
TIMESTAMP_PATTERN = (
    r"^(?P<date>[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]))[Tt]"
    r"(?P<time>(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])(?:\.(?P<frac>[0-9]{1,9}))?"
    r"(?P<tz>[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)

#: An RFC 3339 timestamp in UTC with millisecond precision, e.g.
#: ``2025-01-02T03:04:05.678Z`` (spec §5.6.1: UTC ``Z`` only, SHOULD use milliseconds).
#: Canonical strings are fixed-width, so they also sort chronologically. Decoding
#: accepts any :data:`TIMESTAMP_PATTERN` string; the owning Struct normalises it.
Timestamp = Annotated[
    str,
    msgspec.Meta(pattern=TIMESTAMP_PATTERN, description="RFC 3339 UTC timestamp"),
]

_CANONICAL = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\Z"
)
_RFC3339 = re.compile(TIMESTAMP_PATTERN)


def format_timestamp(moment: datetime) -> str:
    """Return the canonical ProtoJSON form of an aware ``datetime``.

    Raises:
        ValueError: when ``moment`` is naive or falls outside 0001-9999 once in UTC.
    """
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp out of range: {moment.isoformat()}") from None
    # Not strftime: "%Y" does not zero-pad years below 1000 on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}."
        f"{utc.microsecond // 1000:03d}Z"
    )


def parse_timestamp(text: str) -> datetime:
    """Parse RFC 3339 text (any offset, 0-9 fraction digits) into an aware datetime.

    Raises:
        ValueError: when the text is not an RFC 3339 timestamp.
    """
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    tz = match["tz"]
    tz = "+00:00" if tz in ("Z", "z") else tz
    try:
        return datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{tz}")
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r} ({exc})") from None


#: The last text :func:`normalize_timestamp` found canonical. The statuses a server
#: makes in one millisecond share their stamp (accord._clock.now_timestamp), and a
#: request makes several: the check's answer for the same text is the same.
_last_canonical: str | None = None


def normalize_timestamp(text: str) -> str:
    """Return ``text`` in canonical form (UTC, ``Z``, exactly three fraction digits).

    Raises:
        ValueError: when the text is not an RFC 3339 timestamp or is out of range.
    """
    global _last_canonical
    if text == _last_canonical:
        return text
    if _CANONICAL.match(text):
        # Already canonical in shape; still refuse impossible dates (year 0, Feb 30).
        try:
            datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not an RFC 3339 timestamp: {text!r} ({exc})") from None
        _last_canonical = text
        return text
    return format_timestamp(parse_timestamp(text))

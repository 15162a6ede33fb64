"""Timestamps (spec §5.6.1).

Input: any RFC 3339 ``date-time`` within 0001-9999: any offset (normalised to ``Z``),
0-9 fraction digits, ``T``/``Z`` in either case. Output: always UTC with exactly three
fraction digits (``YYYY-MM-DDTHH:MM:SS.sssZ``). Extra precision is truncated, never
rounded (rounding could carry into the next second, day or year).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord import _clock
from accord import types as t

SETTINGS = settings(deadline=None, database=None)  # examples: the profile (conftest)

MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.just(UTC),
)
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00.000Z"),
        ("2025-01-01T01:00:00+01:00", "2025-01-01T00:00:00.000Z"),
        ("2024-12-31T18:30:00-05:30", "2025-01-01T00:00:00.000Z"),
        ("2025-01-01T00:00:00.000+00:00", "2025-01-01T00:00:00.000Z"),
        ("2025-01-01T00:00:00-00:00", "2025-01-01T00:00:00.000Z"),
        ("2025-01-01t00:00:00z", "2025-01-01T00:00:00.000Z"),
        ("2025-03-01T00:30:00+01:00", "2025-02-28T23:30:00.000Z"),
        ("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000Z"),
        ("0005-06-07T08:09:10Z", "0005-06-07T08:09:10.000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_normalised_to_utc_with_milliseconds(text: str, canonical: str) -> None:
    assert t.normalize_timestamp(text) == canonical


@pytest.mark.parametrize(
    ("fraction", "ms"),
    [
        ("", "000"),
        (".1", "100"),
        (".12", "120"),
        (".123", "123"),
        (".1234", "123"),
        (".12345", "123"),
        (".123456", "123"),
        (".1234567", "123"),
        (".12345678", "123"),
        (".999999999", "999"),
    ],
)
def test_zero_to_nine_fraction_digits(fraction: str, ms: str) -> None:
    text = f"2025-06-01T12:00:00{fraction}Z"
    assert t.normalize_timestamp(text) == f"2025-06-01T12:00:00.{ms}Z"


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-01T00:00:00",  # no offset
        "2025-01-01 00:00:00Z",  # space separator
        "2025-01-01T00:00Z",  # no seconds
        "2025-01-01T00:00:00.Z",  # empty fraction
        "2025-01-01T00:00:00.1234567891Z",  # ten digits
        "2025-1-01T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-01-01T24:00:00Z",
        "2025-01-01T00:00:60Z",  # leap seconds are not representable (ProtoJSON)
        "2025-01-01T00:00:00+24:00",
        "2025-01-01T00:00:00+0100",
        "0000-01-01T00:00:00Z",
        "0000-01-01T00:00:00.000Z",  # canonical shape, impossible year
        "2025-02-30T00:00:00.000Z",  # canonical shape, impossible day
        "0001-01-01T00:00:00+01:00",  # before 0001-01-01 in UTC
        "9999-12-31T23:30:00-01:00",  # after 9999-12-31 in UTC
        "\u0662\u0660\u0662\u0665-01-01T00:00:00.000Z",  # non-ASCII digits
        "2025-01-01T00:00:00.000Z\n",
        "",
    ],
)
def test_malformed_or_out_of_range(text: str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        t.normalize_timestamp(text)


def test_format_requires_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        t.format_timestamp(datetime(2025, 1, 1))


def test_format_pads_small_years() -> None:
    # strftime("%Y") does not pad years below 1000 on glibc.
    moment = datetime(42, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)
    assert t.format_timestamp(moment) == "0042-01-02T03:04:05.678Z"


@SETTINGS
@given(moment=MOMENTS, zone=OFFSETS, digits=st.integers(0, 9))
def test_any_spelling_normalises_to_the_same_instant(
    moment: datetime, zone: timezone, digits: int
) -> None:
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    fraction = f"{local.microsecond:06d}000"[:digits]
    date = f"{local.year:04d}-{local.month:02d}-{local.day:02d}"  # no %Y: unpadded
    text = date + local.strftime("T%H:%M:%S") + (f".{fraction}" if digits else "")
    canonical = t.normalize_timestamp(text + offset)
    truncated = moment.replace(microsecond=int(fraction.ljust(6, "0")[:6] or 0))
    assert canonical == t.format_timestamp(_ms(truncated))
    assert t.parse_timestamp(canonical) == _ms(truncated)
    assert t.normalize_timestamp(canonical) == canonical  # idempotent


@SETTINGS
@given(moments=st.lists(MOMENTS, min_size=2, max_size=6))
def test_canonical_strings_sort_chronologically(moments: list[datetime]) -> None:
    texts = [t.format_timestamp(m) for m in moments]
    assert sorted(texts) == [t.format_timestamp(m) for m in sorted(map(_ms, moments))]


def test_structs_normalise_their_timestamps() -> None:
    status = t.TaskStatus(
        state=t.TaskState.WORKING, timestamp="2025-01-01T01:00:00+01:00"
    )
    assert status.timestamp == "2025-01-01T00:00:00.000Z"
    request = t.ListTasksRequest(status_timestamp_after="2025-01-01T00:00:00.5Z")
    assert request.status_timestamp_after == "2025-01-01T00:00:00.500Z"
    with pytest.raises(ValueError, match="timestamp"):
        t.TaskStatus(state=t.TaskState.WORKING, timestamp="soon")


def test_only_the_clocks_own_stamp_skips_the_check() -> None:
    # TaskStatus trusts the very string the clock made last (accord._clock); any
    # other string is checked and normalised as before, right after the clock ran too.
    stamp = _clock.now_timestamp()
    assert t.TaskStatus(state=t.TaskState.WORKING, timestamp=stamp).timestamp is stamp
    _clock.now_timestamp()
    offset = "2025-01-01T01:00:00+01:00"
    status = t.TaskStatus(state=t.TaskState.WORKING, timestamp=offset)
    assert status.timestamp == "2025-01-01T00:00:00.000Z"
    for text in ("", "soon", "2025-02-30T00:00:00.000Z"):
        with pytest.raises(ValueError, match="timestamp"):
            t.TaskStatus(state=t.TaskState.WORKING, timestamp=text)


def test_the_clocks_stamp_is_canonical_before_its_first_call() -> None:
    # Before any call, the trusted string is no "" (a single shared object).
    code = (
        "from accord import _clock\n"
        "from accord.types import normalize_timestamp\n"
        "assert normalize_timestamp(_clock.last_stamp) == _clock.last_stamp\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_decoded_timestamps_are_canonical_on_output() -> None:
    doc = b'{"id":"t","status":{"state":"TASK_STATE_WORKING","timestamp":"2025-01-01T05:30:00.123456+05:30"}}'
    task = t.decode(doc, t.Task)
    assert t.encode(task) == (
        b'{"id":"t","status":{"state":"TASK_STATE_WORKING",'
        b'"timestamp":"2025-01-01T00:00:00.123Z"}}'
    )

"""Tests for the ASCII-only time grammars."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from playbook_engine.timeparse import (
    format_duration,
    format_timestamp,
    parse_date,
    parse_duration,
    parse_epoch,
    parse_time_of_day,
    parse_timestamp,
)

# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0m", timedelta(0)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("3d", timedelta(days=3)),
        ("2w3d", timedelta(days=17)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90s", timedelta(seconds=90)),
        ("366d", timedelta(days=366)),
        ("52w2d", timedelta(days=366)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


GRAMMAR = "expected a duration like 15m, 4h, 1h30m"
ORDER = (
    "duration units must go from largest to smallest, each at most once (w, d, h, m, s): "
    "expected a duration like 15m, 4h, 1h30m"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", GRAMMAR),
        ("15", GRAMMAR),
        ("m", GRAMMAR),
        ("15 m", GRAMMAR),
        (" 15m", GRAMMAR),
        ("15m\n", GRAMMAR),
        ("1.5h", GRAMMAR),
        ("-5m", GRAMMAR),
        ("15M", GRAMMAR),
        ("1d1w", GRAMMAR),
        ("PT15M", GRAMMAR),
        ("30m1h", ORDER),
        ("1h1h", ORDER),
        ("1m30m", ORDER),
        ("367d", "a duration may be at most 366 days"),
        ("52w3d", "a duration may be at most 366 days"),
        ("8785h", "a duration may be at most 366 days"),
        ("9999999999999999999999s", "a duration may be at most 366 days"),
        ("\u0661\u0665m", "a duration must be written with ASCII characters only (digits 0-9)"),
        ("\uff11\uff15m", "a duration must be written with ASCII characters only (digits 0-9)"),
    ],
)
def test_parse_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0m"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=10), "10d"),
        (timedelta(days=1, seconds=5), "1d5s"),
        (timedelta(seconds=59, microseconds=999_999), "59s"),
        (-timedelta(hours=2, minutes=5), "-2h5m"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=366 * 86400))
def test_duration_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.text(max_size=12))
def test_parse_duration_only_raises_value_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert timedelta(0) <= result <= timedelta(days=366)
        assert text.isascii()


# --- timestamps -------------------------------------------------------------------------

PLUS_ONE = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-14T02:17:00Z", datetime(2026, 3, 14, 2, 17, tzinfo=UTC)),
        ("2026-03-14t02:17:00z", datetime(2026, 3, 14, 2, 17, tzinfo=UTC)),
        ("2026-03-14 02:17:00Z", datetime(2026, 3, 14, 2, 17, tzinfo=UTC)),
        ("2026-03-14T03:17:00+01:00", datetime(2026, 3, 14, 3, 17, tzinfo=PLUS_ONE)),
        ("2026-03-14T03:17:00+0100", datetime(2026, 3, 14, 3, 17, tzinfo=PLUS_ONE)),
        ("2026-03-14T03:17+01:00", datetime(2026, 3, 14, 3, 17, tzinfo=PLUS_ONE)),
        (
            "2026-03-13T21:47:00-04:30",
            datetime(2026, 3, 13, 21, 47, tzinfo=timezone(-timedelta(hours=4, minutes=30))),
        ),
        ("2026-03-14T02:17:00+00:00", datetime(2026, 3, 14, 2, 17, tzinfo=UTC)),
        ("2026-03-14T02:17:00-00:00", datetime(2026, 3, 14, 2, 17, tzinfo=UTC)),
        ("2026-03-14T02:17:00.5Z", datetime(2026, 3, 14, 2, 17, 0, 500_000, tzinfo=UTC)),
        (
            "2026-03-14T02:17:00.123456789Z",
            datetime(2026, 3, 14, 2, 17, 0, 123_456, tzinfo=UTC),
        ),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2028-02-29T12:00:00Z", datetime(2028, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_accepts(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


TIMESTAMP_HINT = "expected a timestamp like 2026-03-14T02:17:00Z or 2026-03-14T03:17:00+01:00"
ASCII_TS = "a timestamp must be written with ASCII characters only (digits 0-9)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-03-14T02:17:00", "timestamp has no offset: add an offset such as Z or +01:00"),
        ("2026-03-14 02:17", "timestamp has no offset: add an offset such as Z or +01:00"),
        ("2026-03-14", TIMESTAMP_HINT),
        ("2026-03-14T02:17:00 Z", TIMESTAMP_HINT),
        ("2026-03-14T02:17:00+1", TIMESTAMP_HINT),
        ("2026-03-14T02:17:00.1234567890Z", TIMESTAMP_HINT),
        ("2026-03-14T02:17:00,5Z", TIMESTAMP_HINT),
        ("2026-W11-6T02:17:00Z", TIMESTAMP_HINT),
        ("20260314T021700Z", TIMESTAMP_HINT),
        ("2026-03-14T02:17:00Z\n", TIMESTAMP_HINT),
        ("1773454620", TIMESTAMP_HINT),
        ("2026-03-14T02:17:60Z", "leap seconds (:60) are not supported: use :59"),
        ("2026-03-14T24:00:00Z", "hour 24 is out of range (00-23)"),
        ("2026-03-14T02:60:00Z", "minute 60 is out of range (00-59)"),
        ("2026-03-14T02:17:61Z", "second 61 is out of range (00-59)"),
        ("2026-13-14T02:17:00Z", "month 13 is out of range (01-12)"),
        ("2026-00-14T02:17:00Z", "month 00 is out of range (01-12)"),
        ("2026-02-29T02:17:00Z", "day 29 does not exist in 2026-02"),
        ("2026-04-31T02:17:00Z", "day 31 does not exist in 2026-04"),
        ("1969-12-31T23:59:59Z", "year 1969 is out of range: use a year between 1970 and 9999"),
        ("0001-01-01T00:00:00Z", "year 1 is out of range: use a year between 1970 and 9999"),
        ("9999-12-31T23:00:00-05:00", "timestamp 9999-12-31T23:00:00-05:00 is out of range"),
        ("2026-03-14T02:17:00+24:00", "offset +24:00 is out of range (-23:59 to +23:59)"),
        ("2026-03-14T02:17:00+01:60", "offset +01:60 is out of range (-23:59 to +23:59)"),
        ("\u0662\u0660\u0662\u0666-03-14T02:17:00Z", ASCII_TS),
        ("2026-03-14T02:17:00\u2212" + "01:00", ASCII_TS),
    ],
)
def test_parse_timestamp_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_timestamp(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 3, 14, 2, 17, tzinfo=UTC), "2026-03-14T02:17:00Z"),
        (datetime(2026, 3, 14, 3, 17, tzinfo=PLUS_ONE), "2026-03-14T03:17:00+01:00"),
        (
            datetime(2026, 3, 13, 21, 47, tzinfo=timezone(-timedelta(hours=4, minutes=30))),
            "2026-03-13T21:47:00-04:30",
        ),
        (datetime(2026, 3, 14, 2, 17, 0, 500_000, tzinfo=UTC), "2026-03-14T02:17:00.5Z"),
        (datetime(2026, 3, 14, 2, 17, 0, 120, tzinfo=UTC), "2026-03-14T02:17:00.00012Z"),
        (
            datetime(1972, 1, 1, tzinfo=timezone(timedelta(minutes=-44, seconds=-30))),
            "1972-01-01T00:00:00-00:44:30",
        ),
    ],
)
def test_format_timestamp(value: datetime, text: str) -> None:
    assert format_timestamp(value) == text


def test_format_timestamp_refuses_naive() -> None:
    with pytest.raises(ValueError, match="without an offset"):
        format_timestamp(datetime(2026, 3, 14, 2, 17))


offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets
)


@given(moments)
def test_timestamp_round_trip(moment: datetime) -> None:
    parsed = parse_timestamp(format_timestamp(moment))
    assert parsed == moment
    assert parsed.utcoffset() == moment.utcoffset()
    assert format_timestamp(parsed) == format_timestamp(moment)


@given(st.text(max_size=40))
def test_parse_timestamp_only_raises_value_error(text: str) -> None:
    try:
        result = parse_timestamp(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert result.utcoffset() is not None
        assert text.isascii()


def test_parse_epoch() -> None:
    assert parse_epoch(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_epoch(1_773_454_620) == datetime(2026, 3, 14, 2, 17, tzinfo=UTC)
    assert parse_epoch(1_773_454_620_123, "ms") == datetime(
        2026, 3, 14, 2, 17, 0, 123_000, tzinfo=UTC
    )
    assert parse_epoch(1.5) == datetime(1970, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        (-1, "s", "epoch -1 s is out of range (years 1970-9999)"),
        (253_402_300_800, "s", "epoch 253402300800 s is out of range (years 1970-9999)"),
        (10**30, "ms", "out of range"),
        (float("nan"), "s", "an epoch timestamp must be a finite number"),
        (float("inf"), "ms", "an epoch timestamp must be a finite number"),
        (True, "s", "an epoch timestamp must be a number"),
        (5, "us", "unknown epoch unit 'us': use 's' or 'ms'"),
    ],
)
def test_parse_epoch_refuses(value: float, unit: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_epoch(value, unit)
    assert message in str(info.value)


# --- times of day and dates -------------------------------------------------------------


def test_parse_time_of_day() -> None:
    assert parse_time_of_day("09:00") == time(9, 0)
    assert parse_time_of_day("17:30") == time(17, 30)
    assert parse_time_of_day("00:00") == time(0, 0)
    assert parse_time_of_day("23:59") == time(23, 59)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9:30", 'expected a time of day like "09:00" or "17:30" (HH:MM, 24-hour)'),
        ("09:30:00", 'expected a time of day like "09:00" or "17:30" (HH:MM, 24-hour)'),
        ("0930", 'expected a time of day like "09:00" or "17:30" (HH:MM, 24-hour)'),
        ("9am", 'expected a time of day like "09:00" or "17:30" (HH:MM, 24-hour)'),
        ("24:00", "hour 24 is out of range (00-23)"),
        ("12:60", "minute 60 is out of range (00-59)"),
        (
            "\u0660\u0669:00",
            "a time of day must be written with ASCII characters only (digits 0-9)",
        ),
    ],
)
def test_parse_time_of_day_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_time_of_day(text)
    assert str(info.value) == message


def test_parse_date() -> None:
    assert parse_date("2026-12-25") == date(2026, 12, 25)
    assert parse_date("2028-02-29") == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-12-25T00:00:00Z", 'expected a date like "2026-12-25" (YYYY-MM-DD)'),
        ("25/12/2026", 'expected a date like "2026-12-25" (YYYY-MM-DD)'),
        ("2026-1-5", 'expected a date like "2026-12-25" (YYYY-MM-DD)'),
        ("2026-02-29", "day 29 does not exist in 2026-02"),
        ("1900-01-01", "year 1900 is out of range: use a year between 1970 and 9999"),
        (
            "\u0662\u0660\u0662\u0666-12-25",
            "a date must be written with ASCII characters only (digits 0-9)",
        ),
    ],
)
def test_parse_date_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_date(text)
    assert str(info.value) == message

"""ASCII-only grammars for the time values of the format: durations, timestamps, times, dates.

Python's own parsers are too lenient for a contract (`int()` accepts Arabic-Indic digits,
`datetime.fromisoformat` accepts naive times and week dates), so each grammar here is a small
regular expression over ASCII characters followed by range checks. Every failure is a
`ValueError` whose message is one line meant for the author of the file ("expected a duration
like 15m, 4h, 1h30m"); callers wrap it into a diagnostic.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta, timezone

MIN_YEAR = 1970
MAX_YEAR = 9999
MAX_DURATION = timedelta(days=366)

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_ORDER = "wdhms"
_DURATION = re.compile(r"[0-9]+[wdhms](?:[0-9]+[dhms])*")
_DURATION_PART = re.compile(r"([0-9]+)([wdhms])")
_DURATION_HINT = "expected a duration like 15m, 4h, 1h30m"
# Bounded, so that a long `playbook run` over hostile incidents cannot grow it without end.
_DURATIONS_KEPT = 4096
_DURATIONS: dict[str, timedelta] = {}

_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_TIMESTAMP_HINT = "expected a timestamp like 2026-03-14T02:17:00Z or 2026-03-14T03:17:00+01:00"
_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_LIMIT_SECONDS = 253_402_300_800  # 10000-01-01T00:00:00Z


def _require_ascii(text: str, what: str) -> None:
    if not text.isascii():
        raise ValueError(f"{what} must be written with ASCII characters only (digits 0-9)")


# --- durations --------------------------------------------------------------------------


_MAX_DURATION_SECONDS = int(MAX_DURATION.total_seconds())


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as `15m`, `4h`, `1h30m`, `2w3d`; at most 366 days in total.

    Units go from largest to smallest (w, d, h, m, s), each at most once; `w` only first.
    """
    # A library writes the same few durations thousands of times (10,000 parses for 1,000
    # playbooks): parsed ones are remembered. A timedelta is immutable, so sharing one is safe;
    # refused text is not remembered and raises again.
    found = _DURATIONS.get(text)
    if found is not None:
        return found
    result = _parse_duration(text)
    if len(_DURATIONS) < _DURATIONS_KEPT:
        _DURATIONS[text] = result
    return result


def _parse_duration(text: str) -> timedelta:
    _require_ascii(text, "a duration")
    if not _DURATION.fullmatch(text):
        raise ValueError(_DURATION_HINT)
    total = 0
    previous = -1
    for digits, unit in _DURATION_PART.findall(text):
        rank = _UNIT_ORDER.index(unit)
        if rank <= previous:
            raise ValueError(
                "duration units must go from largest to smallest, each at most once "
                "(w, d, h, m, s): " + _DURATION_HINT
            )
        previous = rank
        # Long digit strings would only end in the range error below; refuse before int().
        if len(digits) > 12:
            raise ValueError("a duration may be at most 366 days")
        total += int(digits) * _UNIT_SECONDS[unit]
    # Compared as seconds: a timedelta of 999999999999 days overflows before it can be compared.
    if total > _MAX_DURATION_SECONDS:
        raise ValueError("a duration may be at most 366 days")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """Format a duration canonically: `1h30m`, `3d`, `45s`, `0m`; negative values get a `-`.

    Days are the largest unit (no weeks) and fractions of a second are dropped, so the result
    reads back through `parse_duration` for any whole-second value up to 366 days.
    """
    sign = "-" if value < timedelta(0) else ""
    seconds = int(abs(value).total_seconds())
    if seconds == 0:
        return "0m"
    parts = []
    for unit in "dhms":
        amount, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + "".join(parts)


# --- timestamps -------------------------------------------------------------------------


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"year {year} is out of range: use a year between {MIN_YEAR} and {MAX_YEAR}"
        )


def _make_date(year: int, month: int, day: int) -> date:
    _check_year(year)
    if not 1 <= month <= 12:
        raise ValueError(f"month {month:02d} is out of range (01-12)")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"day {day:02d} does not exist in {year:04d}-{month:02d}") from None


def _make_time(hour: int, minute: int, second: int = 0) -> time:
    if hour > 23:
        raise ValueError(f"hour {hour:02d} is out of range (00-23)")
    if minute > 59:
        raise ValueError(f"minute {minute:02d} is out of range (00-59)")
    if second == 60:
        raise ValueError("leap seconds (:60) are not supported: use :59")
    if second > 59:
        raise ValueError(f"second {second:02d} is out of range (00-59)")
    return time(hour, minute, second)


def _make_offset(text: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {text} is out of range (-23:59 to +23:59)")
    delta = timedelta(hours=hours, minutes=minutes)
    if delta == timedelta(0):
        return UTC
    return timezone(-delta if text[0] == "-" else delta)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp with a required offset into an aware datetime.

    Accepts `T`, `t` or a space between date and time, optional seconds, fractions of up to 9
    digits (truncated to microseconds) and offsets `Z`, `+01:00` or `+0100`. The datetime keeps
    the offset as written (a zero offset becomes UTC). Years must lie in 1970-9999.
    """
    _require_ascii(text, "a timestamp")
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(_TIMESTAMP_HINT)
    if match["offset"] is None:
        raise ValueError("timestamp has no offset: add an offset such as Z or +01:00")
    day = _make_date(int(match["year"]), int(match["month"]), int(match["day"]))
    clock = _make_time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
    micros = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    result = datetime.combine(day, clock.replace(microsecond=micros), _make_offset(match["offset"]))
    try:
        # The instant itself must be representable too (9999-12-31T23:00-05:00 is not).
        result.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp {text} is out of range") from None
    return result


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime canonically: `2026-03-14T02:17:00Z`, `...T03:17:00+01:00`.

    Seconds are always written, fractions only when not zero (trailing zeros dropped), and a
    zero offset is written `Z`.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("cannot format a timestamp without an offset")
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text += f"{sign}{hours:02d}:{minutes:02d}"
    # Historical zone offsets can carry seconds; write them rather than round them away.
    return text + (f":{seconds:02d}" if seconds else "")


def parse_epoch(value: int | float, unit: str = "s") -> datetime:
    """A UTC datetime from a Unix epoch number in seconds (`unit="s"`) or milliseconds (`"ms"`).

    Used by alert adapters; the instant must lie in 1970-9999.
    """
    if unit not in ("s", "ms"):
        raise ValueError(f"unknown epoch unit {unit!r}: use 's' or 'ms'")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an epoch timestamp must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("an epoch timestamp must be a finite number")
    seconds = value / 1000 if unit == "ms" else value
    if not 0 <= seconds < _EPOCH_LIMIT_SECONDS:
        raise ValueError(f"epoch {value} {unit} is out of range (years {MIN_YEAR}-{MAX_YEAR})")
    if isinstance(value, int):
        # Integer arithmetic keeps milliseconds exact, where float division might not.
        whole = timedelta(milliseconds=value) if unit == "ms" else timedelta(seconds=value)
        return _EPOCH + whole
    return _EPOCH + timedelta(seconds=seconds)


# --- times of day and dates -------------------------------------------------------------


def parse_time_of_day(text: str) -> time:
    """Parse a 24-hour time of day `"HH:MM"` (two digits each, 00:00-23:59)."""
    _require_ascii(text, "a time of day")
    match = _TIME_OF_DAY.fullmatch(text)
    if match is None:
        raise ValueError('expected a time of day like "09:00" or "17:30" (HH:MM, 24-hour)')
    return _make_time(int(match[1]), int(match[2]))


def parse_date(text: str) -> date:
    """Parse a calendar date `"YYYY-MM-DD"` with a year in 1970-9999."""
    _require_ascii(text, "a date")
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError('expected a date like "2026-12-25" (YYYY-MM-DD)')
    return _make_date(int(match[1]), int(match[2]), int(match[3]))

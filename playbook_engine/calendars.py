"""Business-hours arithmetic on a `model.Calendar`: is a moment inside, and when is work done.

A calendar's working time on a day is the wall-clock interval `[start, end)` in its IANA time
zone, on the calendar's weekdays, except holidays. Wall-clock times become instants with
`zoneinfo`, and all arithmetic happens in UTC (Python subtracts two datetimes sharing one
tzinfo by wall clock, which is wrong across a DST change). So a 09:00-17:30 day is 8.5 hours
on a DST day too, and when the change falls inside the working hours the day is an hour
shorter or longer, as it is for the people working it.

Times that the clock skips or repeats are read as "the first instant at which the wall clock
shows that time or later": an opening at 01:30 on a day the clock jumps from 01:00 to 02:00
opens at the jump, and a time that occurs twice is taken at its first occurrence. `is_within`
and `add_working_time` share this one definition, so they always agree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from playbook_engine.model import Calendar

# Far beyond any SLA; stops a calendar whose working time can never add up from looping.
MAX_DAYS = 400 * 366

_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*")
# Names the zoneinfo directory holds that are not portable IANA zones: the machine's own
# zone, and the variants with leap seconds or POSIX rules.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_NOT_ZONE_PREFIXES = ("posix/", "right/")
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


def validate_timezone(name: str) -> str | None:
    """An error message if `name` is not a usable IANA time zone name, else None."""
    message = f"unknown time zone {name!r}: use an IANA name such as Europe/London or UTC"
    if (
        not name.isascii()
        or not _ZONE_NAME.fullmatch(name)
        or name in _NOT_ZONES
        or name.startswith(_NOT_ZONE_PREFIXES)
    ):
        return message
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return message
    return None


_US_FIXED = {
    "EST": ("UTC-05:00", "America/New_York"),
    "MST": ("UTC-07:00", "America/Denver"),
    "HST": ("UTC-10:00", "Pacific/Honolulu"),
}
_ETC_OFFSET = re.compile(r"Etc/GMT([+-])(\d{1,2})")


def zone_caution(name: str) -> tuple[str, str] | None:
    """Why a valid zone name probably does not mean what its author meant, and what to write
    instead; None for the others. `EST` is UTC-05:00 all year, without daylight saving, and
    `Etc/GMT+5` is UTC-05:00 too (POSIX inverts the sign)."""
    if name in _US_FIXED:
        offset, region = _US_FIXED[name]
        return (
            f"time zone {name!r} is {offset} all year, without daylight saving",
            f"for the clocks of the region write {region}; if a fixed offset is meant, "
            "disable PB318 here",
        )
    found = _ETC_OFFSET.fullmatch(name)
    if found and found.group(2).lstrip("0"):
        sign = "-" if found.group(1) == "+" else "+"
        return (
            f"time zone {name!r} is UTC{sign}{int(found.group(2)):02d}:00 (POSIX inverts the "
            "sign) all year, without daylight saving",
            "write a region's zone (Europe/Berlin, America/Chicago); if a fixed offset is "
            "meant, disable PB318 here",
        )
    return None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    message = validate_timezone(name)
    if message is not None:
        raise ValueError(message)
    return ZoneInfo(name)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _first_instant_at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the wall clock in `zone` shows `day` `clock` or later."""
    wall = datetime.combine(day, clock)
    # fold=0 reads a repeated time at its first occurrence; a skipped time it reads with the
    # offset from before the jump, which lands after the jump: detect that by the round trip.
    after = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(after, zone) == wall:
        return after
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    # The jump lies in (before, after]; zone transitions fall on whole seconds.
    while after - before > _ONE_SECOND:
        middle = before + timedelta(seconds=int((after - before).total_seconds()) // 2)
        if _wall(middle, zone) >= wall:
            after = middle
        else:
            before = middle
    return after


def _working_interval(
    calendar: Calendar, zone: ZoneInfo, day: date
) -> tuple[datetime, datetime] | None:
    if day.weekday() not in calendar.weekdays or day in calendar.holidays:
        return None
    if calendar.public_holidays and any(
        day in public_holidays(country, subdivision, day.year)
        for country, subdivision in calendar.public_holidays
    ):
        return None
    opening = _first_instant_at(day, calendar.start, zone)
    closing = _first_instant_at(day, calendar.end, zone)
    return (opening, closing) if opening < closing else None


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays of a country (and subdivision) in a year, from the `holidays`
    package (imported only for a calendar that names a country: about 0.1 s the first time).
    Raises ValueError for a country or subdivision it does not know."""
    import holidays

    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:  # the package's word for an unknown country/subdivision
        raise ValueError(str(exc)) from None
    return frozenset(found)


def holiday_places() -> dict[str, list[str]]:
    """The countries the `holidays` package knows, each with its subdivisions."""
    import holidays

    return {country: list(subs) for country, subs in holidays.list_supported_countries().items()}


def _require_aware(moment: datetime, what: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{what} must have a time zone offset")


def is_within(calendar: Calendar, moment: datetime) -> bool:
    """Whether the aware `moment` falls inside the calendar's working hours (end exclusive)."""
    _require_aware(moment, "the moment")
    zone = _zone(calendar.timezone)
    instant = moment.astimezone(UTC)
    day = _wall(instant, zone).date()
    # A day's interval can end just past its own midnight when its closing time is skipped.
    for candidate in (day - _ONE_DAY, day):
        interval = _working_interval(calendar, zone, candidate)
        if interval is not None and interval[0] <= instant < interval[1]:
            return True
    return False


def add_working_time(calendar: Calendar, start: datetime, delta: timedelta) -> datetime:
    """The first moment at which `delta` of working time has elapsed since `start`.

    Only the calendar's working hours count: a `start` outside them starts the clock at the
    next opening, and work that ends exactly at a closing time is due at that closing time
    (not the next opening). A zero `delta` returns `start` itself. The result is in `start`'s
    time zone. Raises `ValueError` for a naive `start`, a negative `delta`, a calendar that
    cannot be used, or working time that does not add up within 400 years.
    """
    _require_aware(start, "the start")
    if delta < timedelta(0):
        raise ValueError("working time cannot be negative")
    if delta == timedelta(0):
        return start
    if not calendar.weekdays:
        raise ValueError("the calendar has no working weekdays")
    if calendar.end <= calendar.start:
        raise ValueError("the calendar's hours must end after they start")
    zone = _zone(calendar.timezone)
    cursor = start.astimezone(UTC)
    remaining = delta
    try:
        day = _wall(cursor, zone).date() - _ONE_DAY
        for _ in range(MAX_DAYS):
            interval = _working_interval(calendar, zone, day)
            day += _ONE_DAY
            if interval is None:
                continue
            begin = max(interval[0], cursor)
            if begin >= interval[1]:
                continue
            available = interval[1] - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
    except OverflowError:
        raise ValueError("working time runs past the year 9999") from None
    raise ValueError("working time does not add up within 400 years on this calendar")

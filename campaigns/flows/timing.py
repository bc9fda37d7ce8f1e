"""Local time for automations: waits until a time of day and QUIET_HOURS, in TIME_ZONE, across DST changes.

A local time that does not exist (the hour skipped when clocks go forward) moves forward by the length of
the gap (02:30 on that night is 03:30); one that happens twice (clocks going back) is its first occurrence.
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

QUIET_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """`day` at `time` in TIME_ZONE, as an aware UTC datetime (see the module docstring for DST gaps)."""
    return dt.datetime.combine(day, time, tzinfo=local_zone()).astimezone(dt.UTC)  # fold=0: see above


def parse_time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def next_local_time(after: dt.datetime, time: dt.time) -> dt.datetime:
    """The first moment strictly after `after` when the local clock shows `time`."""
    today = after.astimezone(local_zone()).date()
    for offset in range(3):
        candidate = at_local(today + dt.timedelta(days=offset), time)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a local time recurs every day")


def quiet_hours() -> tuple[dt.time, dt.time] | None:
    """QUIET_HOURS ("21:00-08:00", local) as (start, end), or None when empty."""
    text = settings.QUIET_HOURS.strip()
    if not text:
        return None
    match = QUIET_PATTERN.match(text)
    if not match:
        raise ImproperlyConfigured(f"QUIET_HOURS must look like 21:00-08:00, not {text!r}")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    return dt.time(h1, m1), dt.time(h2, m2)


def quiet_until(moment: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around `moment` end, or None if `moment` is outside them."""
    window = quiet_hours()
    if window is None or window[0] == window[1]:
        return None
    start, end = window
    clock = moment.astimezone(local_zone()).time()
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    return next_local_time(moment, end) if inside else None

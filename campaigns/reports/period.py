"""A reporting period: TIME_ZONE days, both ends included (CONTRACT §8)."""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[first instant, first instant after) in TIME_ZONE, for `>=` / `<` filters on stored times."""
        zone = timezone.get_default_timezone()
        return (
            dt.datetime.combine(self.start, dt.time.min, tzinfo=zone),
            dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        )

    def previous(self) -> "Period":
        """The period of equal length just before this one."""
        return Period(self.start - dt.timedelta(days=self.days), self.start - dt.timedelta(days=1))

    def months(self) -> list[tuple[dt.date, int]]:
        """(first day of month, days of this period in that month), for every month the period touches."""
        months = []
        day = self.start.replace(day=1)
        while day <= self.end:
            following = (day + dt.timedelta(days=32)).replace(day=1)
            first, last = max(day, self.start), min(following - dt.timedelta(days=1), self.end)
            months.append((day, (last - first).days + 1))
            day = following
        return months

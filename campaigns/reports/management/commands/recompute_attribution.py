"""Credit every purchase of a period anew (after changing the attribution windows, or fixing data by hand)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from ...attribution import recompute


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(_("%(value)s is not a date (YYYY-MM-DD).") % {"value": value}) from exc


class Command(BaseCommand):
    help = (
        "Attribute the purchases made between two dates (TIME_ZONE days, both included) anew, by the rules "
        "and windows in force now. Safe to run again: each purchase keeps one attribution."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, type=_date, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, type=_date, help="Last day, YYYY-MM-DD.")

    def handle(self, *args, start: dt.date, end: dt.date, **options) -> None:
        if end < start:
            raise CommandError(_("--to is before --from."))
        zone = timezone.get_default_timezone()
        seen, credited = recompute(
            start=dt.datetime.combine(start, dt.time.min, tzinfo=zone),
            end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        )
        self.stdout.write(
            _("%(seen)d purchases attributed anew, %(credited)d of them to a mail.")
            % {"seen": seen, "credited": credited}
        )

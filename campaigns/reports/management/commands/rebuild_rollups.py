"""Rebuild the daily sales rollups from the purchases (after a change of TIME_ZONE, or data fixed by hand)."""

import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from ...models import PurchaseFact
from ...rollups import rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the daily sales rollups the KPIs read (revenue, orders, buyers per TIME_ZONE day) from every "
        "purchase. Needed after TIME_ZONE changes or purchases are written to the database by hand; ingestion, "
        "merges and club changes keep them up to date by themselves. Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        rebuild()
        self.stdout.write(
            _("%(count)d purchases rolled up in %(seconds).1f s.")
            % {"count": PurchaseFact.objects.count(), "seconds": time.perf_counter() - started}
        )

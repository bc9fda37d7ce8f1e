import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts import services
from contacts.models import Contact

HELP = gettext_lazy("Recompute every contact's RFM scores, which drift as days pass (Celery beat runs this daily).")


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = str(HELP)  # argparse needs a str: translated here, in the language the command runs in

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=50_000,
            help=gettext_lazy("Contacts per UPDATE statement (default %(default)s)."),
        )

    def handle(self, *args, batch_size: int, **options):
        started = time.monotonic()
        result = services.contacts_recompute_all(batch_size=max(1, batch_size))
        self.stdout.write(
            _("Recomputed the RFM scores of %(contacts)d contacts in %(batches)d batches (%(seconds).1f s).")
            % {"contacts": Contact.objects.count(), "batches": result["batches"], "seconds": time.monotonic() - started}
        )

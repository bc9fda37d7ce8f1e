import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts import demo

MAX_CONTACTS = 10_000_000

HELP = gettext_lazy(
    "Load a deterministic demo data set (contacts, club members, stores, products, purchases, site "
    "activity, consent) into a database that has no contacts yet. Running it again does nothing. "
    "Dates are relative to the start of today, so the same seed on the same day gives the same rows."
)


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = str(HELP)  # argparse needs a str: translated here, in the language the command runs in

    def add_arguments(self, parser):
        parser.add_argument(
            "--contacts",
            type=int,
            default=demo.DEFAULT_CONTACTS,
            help=gettext_lazy("How many contacts to create (default %(default)s)."),
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=gettext_lazy("Random seed: the same seed gives the same data (default %(default)s)."),
        )

    def handle(self, *args, contacts: int, seed: int, **options):
        if not 1 <= contacts <= MAX_CONTACTS:
            raise CommandError(_("--contacts must be between 1 and %(max)d.") % {"max": MAX_CONTACTS})
        if demo.demo_data_present():
            self.stdout.write(_("Demo data already present (the database has contacts); nothing to do."))
            return
        started = time.monotonic()
        result = demo.seed_demo(contacts=contacts, seed=seed, progress=self._progress(options["verbosity"]))
        if result.skipped:
            self.stdout.write(_("Demo data already present (the database has contacts); nothing to do."))
            return
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Demo data loaded in %(seconds).1f s: %(contacts)d contacts, %(members)d club members, "
                    "%(purchases)d purchases (%(items)d items), %(events)d site events, %(consent)d consent events."
                )
                % {
                    "seconds": time.monotonic() - started,
                    "contacts": result.contacts,
                    "members": result.members,
                    "purchases": result.purchases,
                    "items": result.items,
                    "events": result.events,
                    "consent": result.consent_events,
                }
            )
        )

    def _progress(self, verbosity: int):
        def report(done: int, total: int) -> None:
            if verbosity >= 1 and total >= 100_000 and (done % 100_000 == 0 or done == total):
                self.stdout.write(_("%(done)d of %(total)d contacts generated…") % {"done": done, "total": total})
                self.stdout.flush()

        return report

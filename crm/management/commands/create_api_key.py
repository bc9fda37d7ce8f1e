from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.models import SCOPES
from crm.services import api_key_create


class Command(BaseCommand):
    help = "Create a partner API key. The key is printed once, on the last line of the output; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Who the key is for, e.g. 'POS chain north'.")
        parser.add_argument("--scopes", required=True, help="Comma-separated scopes; any of: " + ", ".join(SCOPES))

    def handle(self, *args, name, scopes, **options):
        try:
            key, raw = api_key_create(name=name, scopes=scopes)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            ) from exc
        self.stdout.write(
            _("Created API key #%(id)d “%(name)s” (prefix %(prefix)s) with scopes: %(scopes)s")
            % {"id": key.pk, "name": key.name, "prefix": key.prefix, "scopes": ", ".join(key.scopes)}
        )
        self.stdout.write(_("Store it now: it will not be shown again."))
        self.stdout.write(raw)

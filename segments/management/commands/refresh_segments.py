from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from segments.models import Segment
from segments.services import SegmentFailed, segment_refresh

HELP = gettext_lazy("Re-evaluate dynamic segments now and record who entered and who left.")


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = str(HELP)  # argparse needs a str: translated here, in the language the command runs in

    def add_arguments(self, parser):
        parser.add_argument(
            "--segment",
            type=int,
            action="append",
            dest="segments",
            metavar="ID",
            help=gettext_lazy("Only this segment (repeat for several)."),
        )

    def handle(self, *args, segments=None, **options):
        qs = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
        if segments:
            qs = qs.filter(pk__in=segments)
            missing = set(segments) - set(qs.values_list("pk", flat=True))
            if missing:
                raise CommandError(
                    _("No dynamic segment with id %(ids)s.") % {"ids": ", ".join(map(str, sorted(missing)))}
                )
        failed = []
        for segment in qs:
            try:
                result = segment_refresh(segment=segment)
            except SegmentFailed as failure:  # marked failing and logged; the others still refresh
                failed.append(segment.pk)
                self.stderr.write(
                    _("%(name)s (id %(id)d) failed: %(error)s")
                    % {"name": segment.name, "id": segment.pk, "error": failure.error}
                )
                continue
            self.stdout.write(
                _("%(name)s: %(members)d members (+%(entered)d / -%(left)d) in %(ms)d ms")
                % {
                    "name": segment.name,
                    "members": result.members,
                    "entered": result.entered,
                    "left": result.left,
                    "ms": result.milliseconds,
                }
            )
        if failed:
            raise CommandError(
                _("%(count)d segments failed (ids %(ids)s); the others were refreshed.")
                % {"count": len(failed), "ids": ", ".join(map(str, failed))}
            )

"""Whom the mail editor previews as: a member of a segment picked at random, found by an index.

`ORDER BY random()` would sort every member of a segment of a million to pick one; instead a random
id between the smallest and the largest contact id is drawn and the first member at or after it is
taken (the first before it when none is after). Members are not equally likely to be picked — those
after a gap in the ids more often — which a preview does not need.
"""

import random

from django.db.models import Max, Min

from contacts.models import Contact
from segments.models import Segment
from segments.selectors import segment_contacts


def random_member(*, segment: Segment) -> Contact | None:
    """A member of `segment` with an email address (whom a mail could reach), or None when it has none."""
    members = segment_contacts(segment).exclude(email__isnull=True).exclude(email="").select_related("club")
    bounds = Contact.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return None
    pivot = random.randint(bounds["low"], bounds["high"])  # a preview, not a secret
    return members.filter(pk__gte=pivot).order_by("pk").first() or members.filter(pk__lt=pivot).order_by("-pk").first()

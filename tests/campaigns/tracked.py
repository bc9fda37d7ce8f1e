"""Opens and clicks written as `campaigns.tracking` writes them, for tests that need many at chosen times: the
event, and on its message the counters and the first human open or click, which the reports count."""

import datetime as dt

from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Link, Message, TrackingEvent


def tracked(
    message: Message, kind: str, *, machine: bool = False, at: dt.datetime | None = None, link: Link | None = None
) -> TrackingEvent:
    at = at or timezone.now()
    event = TrackingEvent.objects.create(
        message=message,
        campaign_id=message.campaign_id,
        contact_id=message.contact_id,
        kind=kind,
        is_machine=machine,
        machine_reason="scanner" if machine else "",
        occurred_at=at,
        link=link,
    )
    counter, first = (
        ("open_count", "first_opened_at") if kind == TrackingEvent.Kind.OPEN else ("click_count", "first_clicked_at")
    )
    changes = {counter: F(counter) + 1}
    if machine and kind == TrackingEvent.Kind.OPEN:
        changes["machine_open_count"] = F("machine_open_count") + 1
    if not machine:
        changes[first] = Coalesce(F(first), Value(at))
    Message.objects.filter(pk=message.pk).update(**changes)
    return event

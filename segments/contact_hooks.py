"""What segments do when contacts are merged (registered in SegmentsConfig.ready).

Erasure needs nothing here: a membership row holds ids and dates only, and the erased contact
leaves the dynamic segments it no longer matches at its next re-evaluation."""

from django.db.models import F

from .models import Segment, SegmentMembership


def memberships_merge(survivor_id: int, duplicate_id: int) -> None:
    """Past stays move as they are. A list both are in now keeps the survivor's stay, dated from
    the earlier of the two joins, and counts one member less; other current stays move over.
    Dynamic lists are then re-evaluated for the survivor (its data changed)."""
    current = SegmentMembership.objects.filter(left_at__isnull=True)
    theirs = {m.segment_id: m for m in current.filter(contact_id=duplicate_id)}
    for mine in current.filter(contact_id=survivor_id, segment_id__in=list(theirs)):
        other = theirs[mine.segment_id]
        if other.joined_at < mine.joined_at:
            SegmentMembership.objects.filter(pk=mine.pk).update(joined_at=other.joined_at)
        other.delete()
        Segment.objects.filter(pk=mine.segment_id, member_count__gt=0).update(member_count=F("member_count") - 1)
    SegmentMembership.objects.filter(contact_id=duplicate_id).update(contact_id=survivor_id)

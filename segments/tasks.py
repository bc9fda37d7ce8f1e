"""Thin Celery tasks: take ids, call one service.

The services enqueue these tasks, so they import this module; a task imports the
services only when it runs, which keeps the two modules from importing each other."""

from celery import shared_task

from .models import Segment


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def refresh_segment(segment_id: int) -> dict | None:
    from . import services

    segment = Segment.objects.filter(pk=segment_id, kind=Segment.Kind.DYNAMIC).first()
    if segment is None:
        return None
    try:
        result = services.segment_refresh(segment=segment)
    except services.SegmentFailed as failure:  # marked and logged; retrying would fail the same way
        return {"failed": failure.error}
    return {"entered": result.entered, "left": result.left, "members": result.members}


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def refresh_contacts(contact_ids: list[int]) -> dict:
    from . import services

    return services.segments_refresh_contacts(contact_ids=contact_ids)


@shared_task
def refresh_dynamic_segments() -> int:
    """The periodic job (Celery beat): time-based rules move contacts in and out as days pass."""
    for segment_id in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("pk", flat=True):
        refresh_segment.delay(segment_id)
    return Segment.objects.filter(kind=Segment.Kind.DYNAMIC).count()

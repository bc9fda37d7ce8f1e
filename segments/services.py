"""Writes for segments: save with validation, membership refresh by set-based diff, static lists."""

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict, Unpack

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from crm.model_update import model_update

from . import hooks
from .evaluation import matching_segments
from .models import Segment, SegmentMembership
from .registry import Context, conditions
from .rules import condition_nodes, validate
from .selectors import RULES_VERSION_KEY, audience, segment_contacts, segments_using
from .tasks import refresh_contacts, refresh_dynamic_segments, refresh_segment

logger = logging.getLogger(__name__)
MAX_ERROR_LENGTH = 2000


@dataclass
class RefreshResult:
    entered: int
    left: int
    members: int
    milliseconds: int


class SegmentFailed(Exception):
    """A segment's rules could not be evaluated. It is already marked failing and logged; the caller
    only decides what to tell its user, and goes on with the other segments."""

    def __init__(self, segment_id: int, error: str):
        self.segment_id = segment_id
        self.error = error
        super().__init__(f"segment {segment_id}: {error}")


def segment_mark_failed(*, segment_id: int, error: BaseException) -> str:
    """Record why the segment failed (shown in the admin) and log it with the segment id."""
    message = (f"{type(error).__name__}: {error}".strip())[:MAX_ERROR_LENGTH]
    logger.error(
        "segment %s could not be evaluated: %s", segment_id, message, exc_info=(type(error), error, error.__traceback__)
    )
    Segment.objects.filter(pk=segment_id).update(last_error=message, last_error_at=timezone.now())
    return message


def _mark_working(segment_ids: list[int]) -> None:
    if segment_ids:
        Segment.objects.filter(pk__in=segment_ids).update(last_error="", last_error_at=None)


# ------------------------------------------------------------------ save / delete


def _clean(*, name, kind, rules, segment_id=None) -> dict:
    errors = {}
    if not name or not str(name).strip():
        errors["name"] = [_("This field is required.")]
    if kind not in Segment.Kind.values:
        errors["kind"] = [_("Choose dynamic or static.")]
    if errors:
        raise ValidationError(errors)
    if kind == Segment.Kind.STATIC:
        return {"name": str(name).strip(), "kind": kind, "rules": None}
    return {"name": str(name).strip(), "kind": kind, "rules": validate(rules, segment_id=segment_id)}


def _rules_changed() -> None:
    """New `rules_version` once committed: other processes must not recompute before they can see it."""
    transaction.on_commit(lambda: cache.set(RULES_VERSION_KEY, uuid.uuid4().hex, None))


@transaction.atomic
def segment_create(
    *,
    name: str,
    kind: str = Segment.Kind.DYNAMIC,
    rules: dict | None = None,
    description: str = "",
    created_by=None,
    refresh: bool = True,
) -> Segment:
    clean = _clean(name=name, kind=kind, rules=rules)
    segment = Segment.objects.create(**clean, description=description or "", created_by=created_by)
    _rules_changed()
    if refresh and segment.is_dynamic:
        transaction.on_commit(lambda: _enqueue_refresh(segment.pk))
    return segment


class SegmentChanges(TypedDict, total=False):
    """What a segment's editor may change; the serializer or the admin form has checked each value."""

    name: str
    description: str | None
    kind: str
    rules: dict | None


@transaction.atomic
def segment_update(*, segment: Segment, **changes: Unpack[SegmentChanges]) -> Segment:
    """Change name, description, kind or rules; changed rules are re-evaluated right after commit."""
    unknown = set(changes) - SegmentChanges.__optional_keys__
    if unknown:
        raise TypeError(f"unknown segment fields: {', '.join(sorted(unknown))}")
    clean = _clean(
        name=changes.get("name", segment.name),
        kind=changes.get("kind", segment.kind),
        rules=changes.get("rules", segment.rules),
        segment_id=segment.pk,
    )
    if clean["kind"] == Segment.Kind.STATIC and segment.is_dynamic and segments_using(segment).exists():
        raise ValidationError({"kind": [_("Other segments use this one's rules; it must stay dynamic.")]})
    rules_changed = clean["rules"] != segment.rules or clean["kind"] != segment.kind
    if "description" in changes:
        clean["description"] = changes["description"] or ""
    model_update(instance=segment, fields=("name", "description", "kind", "rules"), data=clean)
    if rules_changed:
        _rules_changed()
    if rules_changed and segment.is_dynamic:
        transaction.on_commit(lambda: _enqueue_refresh(segment.pk))
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Refused while another segment's rules use it, or a campaign targets it."""
    users = list(segments_using(segment).values_list("name", flat=True)) + _campaigns_using(segment)
    if users:
        raise ValidationError(
            _("“%(name)s” is used by: %(users)s. Change those segments first.")
            % {"name": segment.name, "users": ", ".join(users)}
        )
    try:
        segment.delete()
        _rules_changed()
    except ProtectedError as exc:
        names = ", ".join(sorted({str(obj) for obj in exc.protected_objects})[:10])
        raise ValidationError(_("“%(name)s” is used by: %(users)s.") % {"name": segment.name, "users": names}) from None


def _campaigns_using(segment: Segment) -> list[str]:
    """Names of whatever else points at the segment through a many-to-many (campaigns' audiences)."""
    names = []
    for relation in Segment._meta.related_objects:
        accessor = relation.get_accessor_name()  # None only for a hidden relation, which nothing reads
        if relation.many_to_many and accessor is not None:
            names += [str(obj) for obj in getattr(segment, accessor).all()[:10]]
    return names


def _enqueue_refresh(segment_id: int) -> None:
    refresh_segment.delay(segment_id)


# ------------------------------------------------------------------ dynamic refresh


def segment_refresh(*, segment: Segment) -> RefreshResult:
    """Re-evaluate a dynamic segment and record the difference: new members get an entry row,
    members who no longer match get `left_at`. Two statements, whatever the segment's size."""
    if not segment.is_dynamic:
        raise ValidationError(_("Only dynamic segments are refreshed."))
    started = time.perf_counter()
    ctx = Context.current()
    try:
        with transaction.atomic():  # a savepoint when nested: a failure leaves the caller's transaction usable
            Segment.objects.select_for_update().filter(pk=segment.pk).first()
            matching = segment_contacts(segment, ctx)
            left = (
                SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
                .exclude(Exists(matching.filter(pk=OuterRef("contact_id"))))
                .update(left_at=ctx.now)
            )
            entered = _insert_entries(segment, matching, ctx)
            if entered:
                hooks.entries_recorded([segment.pk])
            members = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count()
            elapsed = int((time.perf_counter() - started) * 1000)
            Segment.objects.filter(pk=segment.pk).update(
                member_count=members,
                last_refreshed_at=ctx.now,
                last_refresh_ms=elapsed,
                last_error="",
                last_error_at=None,
            )
    except Exception as exc:
        raise SegmentFailed(segment.pk, segment_mark_failed(segment_id=segment.pk, error=exc)) from exc
    segment.member_count, segment.last_refreshed_at, segment.last_refresh_ms = members, ctx.now, elapsed
    segment.last_error, segment.last_error_at = "", None
    return RefreshResult(entered=entered, left=left, members=members, milliseconds=elapsed)


def segment_count(*, segment: Segment) -> int:
    """The live count; rules that fail to evaluate mark the segment failing, as a failed refresh does."""
    try:
        with transaction.atomic():
            return segment_contacts(segment).count()
    except Exception as exc:
        raise SegmentFailed(segment.pk, segment_mark_failed(segment_id=segment.pk, error=exc)) from exc


def _insert_entries(segment: Segment, matching, ctx: Context) -> int:
    """INSERT … SELECT of the matching contacts that are not current members yet."""
    current = SegmentMembership.objects.filter(segment=segment, contact=OuterRef("pk"), left_at__isnull=True)
    new = matching.exclude(Exists(current)).values("pk")
    try:
        sql, params = new.query.sql_with_params()
    except EmptyResultSet:  # rules that match no one, e.g. an empty "any" group
        return 0
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    insert = f"INSERT INTO {table} (segment_id, joined_at, contact_id) SELECT %s, %s, q.* FROM ({sql}) q"
    joined_at = connection.ops.adapt_datetimefield_value(ctx.now)
    with connection.cursor() as cursor:
        cursor.execute(insert, [segment.pk, joined_at, *params])
        return cursor.rowcount


def segments_refresh_all() -> dict[int, RefreshResult | SegmentFailed]:
    """Every dynamic segment, one at a time: a failing one is marked and reported, the rest go on."""
    results: dict[int, RefreshResult | SegmentFailed] = {}
    for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk"):
        try:
            results[segment.pk] = segment_refresh(segment=segment)
        except SegmentFailed as failure:
            results[segment.pk] = failure
    return results


def segments_refresh_contacts(*, contact_ids: Iterable[int]) -> dict[str, int]:
    """Re-evaluate these contacts against every dynamic segment in one query, then write the
    difference. This is what runs right after a contact's data changes."""
    ids = sorted(set(contact_ids))
    segments = list(
        Segment.objects.filter(kind=Segment.Kind.DYNAMIC)
        .only("pk", "rules", "updated_at", "last_error_at")
        .order_by("pk")
    )
    if not ids or not segments:
        return {"entered": 0, "left": 0, "failed": 0}
    matches = matching_segments(segments, ids)
    for segment_id, error in matches.failed.items():
        segment_mark_failed(segment_id=segment_id, error=error)
    evaluated = [s.pk for s in segments if s.pk not in matches.failed]
    # Only segments that were evaluated: a failing one keeps its members rather than losing them all.
    current = set(
        SegmentMembership.objects.filter(
            contact_id__in=ids, segment_id__in=evaluated, left_at__isnull=True
        ).values_list("segment_id", "contact_id")
    )
    changes = _apply_difference(matches.found, current, ids, Context.current())
    _mark_working([s.pk for s in segments if s.is_failing and s.pk not in matches.failed])
    return {**changes, "failed": len(matches.failed)}


def _apply_difference(wanted: set, current: set, ids: list[int], ctx: Context) -> dict[str, int]:
    entries, exits = wanted - current, current - wanted
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment_id=s, contact_id=c, joined_at=ctx.now) for s, c in sorted(entries)],
        ignore_conflicts=True,
        batch_size=1000,
    )
    for segment_id in {s for s, _c in exits}:
        SegmentMembership.objects.filter(
            segment_id=segment_id, left_at__isnull=True, contact_id__in=[c for s, c in exits if s == segment_id]
        ).update(left_at=ctx.now)
    _adjust_counts(entries, exits)
    hooks.entries_recorded(s for s, _c in entries)
    return {"entered": len(entries), "left": len(exits)}


def _adjust_counts(entries: set, exits: set) -> None:
    delta: dict[int, int] = {}
    for segment_id, _c in entries:
        delta[segment_id] = delta.get(segment_id, 0) + 1
    for segment_id, _c in exits:
        delta[segment_id] = delta.get(segment_id, 0) - 1
    for segment_id, change in delta.items():
        if change:
            Segment.objects.filter(pk=segment_id).update(member_count=F("member_count") + change)


# ------------------------------------------------------------------ static lists


def _static(segment: Segment) -> None:
    if segment.is_dynamic:
        raise ValidationError({"contacts": [_("Contacts are added by hand only to static lists.")]})


def _existing_ids(contact_ids: Iterable) -> list[int]:
    ids = []
    for value in contact_ids:
        if isinstance(value, bool) or not str(value).strip().isdigit():
            raise ValidationError({"contacts": [_("“%(value)s” is not a contact id.") % {"value": value}]})
        ids.append(int(value))
    found = set(audience().filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(
            {"contacts": [_("No contact with id %(ids)s.") % {"ids": ", ".join(map(str, missing[:20]))}]}
        )
    return sorted(found)


@transaction.atomic
def static_add(*, segment: Segment, contact_ids: Iterable) -> int:
    """Add contacts to a static list; ones already in it are left alone. Returns how many joined."""
    _static(segment)
    ids = _existing_ids(contact_ids)
    present = set(
        SegmentMembership.objects.filter(segment=segment, contact_id__in=ids, left_at__isnull=True).values_list(
            "contact_id", flat=True
        )
    )
    now = timezone.now()
    new = [SegmentMembership(segment=segment, contact_id=i, joined_at=now) for i in ids if i not in present]
    SegmentMembership.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    _recount(segment)
    if new:
        hooks.entries_recorded([segment.pk])
    return len(new)


@transaction.atomic
def static_remove(*, segment: Segment, contact_ids: Iterable) -> int:
    _static(segment)
    ids = _existing_ids(contact_ids)
    removed = SegmentMembership.objects.filter(segment=segment, contact_id__in=ids, left_at__isnull=True).update(
        left_at=timezone.now()
    )
    _recount(segment)
    return removed


def _recount(segment: Segment) -> None:
    segment.member_count = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=segment.member_count, updated_at=timezone.now())


def static_add_queryset(*, segment: Segment, contacts) -> int:
    """Add every contact of a queryset (an admin selection) in batches, by id ranges."""
    total = 0
    last = 0
    while True:
        batch = list(contacts.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:5000])
        if not batch:
            return total
        total += static_add(segment=segment, contact_ids=batch)
        last = batch[-1]


def activities_recorded(contact_ids_by_type: dict[str, list[int]]) -> None:
    """Site events were stored for these contacts (after commit): where a dynamic segment's rules read events
    of their types, the contacts are re-evaluated now, as after any change to their data. Events of a type no
    segment reads move no one (a funnel stage such an event raises is a change of the contact, heard as such)."""
    read = event_types_read() if contact_ids_by_type else set()
    ids = {
        contact for event_type, contacts in contact_ids_by_type.items() if event_type in read for contact in contacts
    }
    if ids:
        contacts_changed_receiver(Contact, contact_ids=sorted(ids))


def event_types_read() -> set[str]:
    """The event types the dynamic segments' rules read; empty when none reads events."""
    known = conditions()
    types: set[str] = set()
    for rules in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list("rules", flat=True):
        for node in condition_nodes(rules):
            condition = known.get(str(node.get("field")))
            if condition is not None and condition.events_read is not None:
                types |= set(condition.events_read(node))
    return types


def contacts_changed_receiver(sender, contact_ids, **kwargs) -> None:
    """Queue a re-evaluation of the changed contacts; a very large change refreshes whole segments."""
    if not Segment.objects.filter(kind=Segment.Kind.DYNAMIC).exists():
        return
    ids = list(contact_ids)
    try:
        if len(ids) > settings.SEGMENT_CONTACT_REFRESH_LIMIT:
            refresh_dynamic_segments.delay()
            return
        for start in range(0, len(ids), 1000):
            refresh_contacts.delay(ids[start : start + 1000])
    except Exception:
        # The contact write is committed and stands; the periodic refresh catches membership up.
        logger.exception("re-evaluating segments for %d changed contacts failed", len(ids))

"""Where the apps above `contacts` plug in, so `contacts` never imports them.

A higher app registers its handlers from its `AppConfig.ready()`:

    hooks.on_contacts_erased(scrub_my_rows)     # fn(contact_ids: list[int])
    hooks.on_contacts_merged(move_my_rows)      # fn(survivor_id: int, duplicate_id: int)
    hooks.on_contact_timeline(TimelineSource(kind="email", model=MyEvent, ...))
    hooks.on_activities_recorded(start_flows)   # fn(contact_ids_by_type: dict[str, list[int]])
    hooks.on_purchases_recorded(start_flows)    # fn(contact_ids_by_channel: dict[str, list[int]])
    hooks.on_purchases_stored(attribute)        # fn(purchase_ids: list[int])
    hooks.on_purchases_counted(roll_up)         # fn(purchase_ids: list[int])
    hooks.on_purchases_deleted(roll_back)       # fn(contact_ids: list[int])
    hooks.on_lifecycle_changed(start_flows)     # fn(contact_ids_by_stage: dict[str, list[int]])
    hooks.on_contact_page(ContactSection(key="flows", title=..., headers=..., rows=..., allowed=...))
    hooks.on_contact_list_filter(InSegmentFilter)  # a changelist filter class for the contacts list
    hooks.on_demo_seeded(seed_my_demo)          # fn(anchor: datetime, seed: int)

Erase, merge and "stored" handlers run inside the write's transaction: an erase handler scrubs the personal data its
app keeps about those contacts; a merge handler moves its rows from the duplicate to the survivor
before the duplicate is deleted (whatever is left on the duplicate would cascade away); a "stored"
handler derives its own rows from the new purchases (their attribution), so they commit together. A
"counted" handler adds new purchases to what it keeps summed (the sales rollups): inside the transaction that
counts them into their buyers' aggregates, which for a purchase stored alone is the one that stores it, and
for a bulk batch the one that takes it from the queue of uncounted purchases (`contacts.purchase_queue`). A
"deleted" handler reads again what it keeps for the buyers of purchases deleted by hand, in the deleting
transaction.

A timeline source is one more table the contact page's timeline reads in its single UNION query
(see `selectors.contact_timeline`); contacts registers its own sources the same way, first. A contact
section is a tab of its own on the contact page (a contact's automations), placed among the page's tabs
by its `position`. A contact list filter is a Django admin list filter the contacts list shows after its
own (the segments a contact is in: only the segments app can read memberships).

A "demo seeded" handler adds its app's part of the demo data set (`manage.py seed_demo`): it is called once
the contacts part is loaded and its derived fields are set, inside the same transaction (so the whole data
set commits or nothing does), with the data set's anchor (timestamps are offsets back from it) and seed, from
which it derives its own rows as deterministically as contacts does. It writes in bulk, like contacts, and
refreshes the derived fields of the contacts it touches.

The "recorded" and "changed" handlers run once the write has committed, one call per write however
many contacts it touched (a bulk batch is one call), each on its own: a handler that fails is logged
and neither undoes the write nor keeps the other handlers from running. The ids come grouped by what
happened to them, so a handler can tell an add_to_cart from a page_view within one batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Model

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django_stubs_ext import StrOrPromise

    from .selectors import TimelineEntry

ErasedHandler = Callable[[list[int]], None]
MergedHandler = Callable[[int, int], None]
StoredHandler = Callable[[list[int]], None]  # purchase ids
RecordedHandler = Callable[[dict[str, list[int]]], None]  # contact ids by event type, channel or stage
DemoHandler = Callable[[dt.datetime, int], None]  # the demo data set's anchor and seed

_erased: list[ErasedHandler] = []
_merged: list[MergedHandler] = []
_timeline: dict[str, TimelineSource] = {}
_sections: dict[str, ContactSection] = {}
_list_filters: list[type] = []
_activities: list[RecordedHandler] = []
_purchases: list[RecordedHandler] = []
_stored: list[StoredHandler] = []
_counted: list[StoredHandler] = []
_deleted: list[ErasedHandler] = []
_lifecycle: list[RecordedHandler] = []
_demo: list[DemoHandler] = []


@dataclass(frozen=True)
class TimelineSource:
    """One branch of the contact timeline: the rows of `model` that belong to the contact, with the
    columns (field paths on `model`) that fill a `TimelineEntry`, and how such a row reads to a person."""

    kind: str
    model: type[Model]
    at: str
    title: str
    detail: str
    describe: Callable[[TimelineEntry], str]
    amount: str | None = None
    granted: str | None = None


@dataclass(frozen=True)
class ContactSection:
    """A table an app above contacts shows on the contact page: `rows(contact_id)` gives its rows, whose
    cells are plain values (escaped when shown) or HTML made with `format_html`, for the users `allowed`
    admits; `more(contact_id)` is the address of the full list, if there is one. Both read the database
    a fixed number of times, whatever the contact has. The page orders its tabs by `position`: its own
    timeline is 0, purchases 10, the club ledger 80 and the edit form 90."""

    key: str
    title: StrOrPromise
    headers: tuple[StrOrPromise, ...]
    rows: Callable[[int], list[tuple]]
    allowed: Callable[[HttpRequest], bool]
    more: Callable[[int], str] | None = None
    position: int = 50


def on_contacts_erased(fn: ErasedHandler) -> ErasedHandler:
    if fn not in _erased:
        _erased.append(fn)
    return fn


def on_contacts_merged(fn: MergedHandler) -> MergedHandler:
    if fn not in _merged:
        _merged.append(fn)
    return fn


def on_contact_timeline(source: TimelineSource) -> TimelineSource:
    """Add a source; registering a kind again replaces it in place (its position in the union stays)."""
    _timeline[source.kind] = source
    return source


def on_contact_page(section: ContactSection) -> ContactSection:
    """Add a section; registering a key again replaces it in place."""
    _sections[section.key] = section
    return section


def on_contact_list_filter(filter_class: type) -> type:
    """Add a list filter (a `django.contrib.admin.ListFilter` subclass) to the contacts list."""
    if filter_class not in _list_filters:
        _list_filters.append(filter_class)
    return filter_class


def on_activities_recorded(fn: RecordedHandler) -> RecordedHandler:
    if fn not in _activities:
        _activities.append(fn)
    return fn


def on_purchases_recorded(fn: RecordedHandler) -> RecordedHandler:
    if fn not in _purchases:
        _purchases.append(fn)
    return fn


def on_purchases_stored(fn: StoredHandler) -> StoredHandler:
    if fn not in _stored:
        _stored.append(fn)
    return fn


def on_purchases_counted(fn: StoredHandler) -> StoredHandler:
    if fn not in _counted:
        _counted.append(fn)
    return fn


def on_purchases_deleted(fn: ErasedHandler) -> ErasedHandler:
    if fn not in _deleted:
        _deleted.append(fn)
    return fn


def on_lifecycle_changed(fn: RecordedHandler) -> RecordedHandler:
    if fn not in _lifecycle:
        _lifecycle.append(fn)
    return fn


def on_demo_seeded(fn: DemoHandler) -> DemoHandler:
    if fn not in _demo:
        _demo.append(fn)
    return fn


def contacts_erased(contact_ids: list[int]) -> None:
    for fn in _erased:
        fn(contact_ids)


def contacts_merged(survivor_id: int, duplicate_id: int) -> None:
    for fn in _merged:
        fn(survivor_id, duplicate_id)


def timeline_sources() -> list[TimelineSource]:
    """The registered sources in registration order (contacts' own first: its app is ready first)."""
    return list(_timeline.values())


def timeline_source(kind: str) -> TimelineSource | None:
    return _timeline.get(kind)


def contact_sections(request: HttpRequest) -> list[ContactSection]:
    """The registered sections this request's user may see, by position (then registration order)."""
    allowed = [section for section in _sections.values() if section.allowed(request)]
    return sorted(allowed, key=lambda section: section.position)


def contact_list_filters() -> list[type]:
    return list(_list_filters)


def _after_commit(handlers: list[RecordedHandler], contact_ids_by_key: dict[str, list[int]]) -> None:
    grouped = {key: sorted(set(ids)) for key, ids in contact_ids_by_key.items() if ids}
    if not grouped:
        return
    for fn in handlers:
        transaction.on_commit(update_wrapper(partial(fn, grouped), fn), robust=True)  # named in the log


def activities_recorded(contact_ids_by_type: dict[str, list[int]]) -> None:
    """Site/app events were stored for these contacts (ids by event type)."""
    _after_commit(_activities, contact_ids_by_type)


def purchases_stored(purchase_ids: list[int]) -> None:
    """New purchases were inserted (inside the inserting transaction): one call per write, a bulk batch
    included."""
    if purchase_ids:
        for fn in _stored:
            fn(purchase_ids)


def purchases_counted(purchase_ids: list[int]) -> None:
    """Stored purchases are being counted into their buyers' aggregates (inside that transaction)."""
    if purchase_ids:
        for fn in _counted:
            fn(purchase_ids)


def purchases_deleted(contact_ids: list[int]) -> None:
    """Purchases of these contacts were deleted by hand (inside the deleting transaction)."""
    if contact_ids:
        for fn in _deleted:
            fn(contact_ids)


def purchases_recorded(contact_ids_by_channel: dict[str, list[int]]) -> None:
    """Purchases were stored for these contacts (ids by channel)."""
    _after_commit(_purchases, contact_ids_by_channel)


def lifecycle_changed(contact_ids_by_stage: dict[str, list[int]]) -> None:
    """These contacts' lifecycle became the stage they are listed under, by a write (a purchase, a merge).
    The clock moves stages too, at no write at all: whoever needs those moves finds them by time."""
    _after_commit(_lifecycle, contact_ids_by_stage)


def lifecycle_watched() -> bool:
    """Whether anyone listens to lifecycle changes (finding them costs two queries per refresh)."""
    return bool(_lifecycle)


def demo_seeded(anchor: dt.datetime, seed: int) -> None:
    """The contacts part of the demo data set is loaded (inside its transaction): the apps above add theirs,
    in registration order."""
    for fn in _demo:
        fn(anchor, seed)

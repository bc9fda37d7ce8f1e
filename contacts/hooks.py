"""Where the apps above `contacts` plug in, so `contacts` never imports them.

A higher app registers its handlers from its `AppConfig.ready()`:

    hooks.on_contacts_erased(scrub_my_rows)     # fn(contact_ids: list[int])
    hooks.on_contacts_merged(move_my_rows)      # fn(survivor_id: int, duplicate_id: int)
    hooks.on_contact_timeline(TimelineSource(kind="email", model=MyEvent, ...))

Handlers run inside the erase or merge transaction: an erase handler scrubs the personal data its
app keeps about those contacts; a merge handler moves its rows from the duplicate to the survivor
before the duplicate is deleted (whatever is left on the duplicate would cascade away).

A timeline source is one more table the contact page's timeline reads in its single UNION query
(see `selectors.contact_timeline`); contacts registers its own sources the same way, first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Model

if TYPE_CHECKING:
    from .selectors import TimelineEntry

ErasedHandler = Callable[[list[int]], None]
MergedHandler = Callable[[int, int], None]

_erased: list[ErasedHandler] = []
_merged: list[MergedHandler] = []
_timeline: dict[str, TimelineSource] = {}


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

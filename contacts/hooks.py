"""Where the apps above `contacts` plug into erase and merge, so `contacts` never imports them.

A higher app registers its handlers from its `AppConfig.ready()`:

    hooks.on_contacts_erased(scrub_my_rows)     # fn(contact_ids: list[int])
    hooks.on_contacts_merged(move_my_rows)      # fn(survivor_id: int, duplicate_id: int)

Handlers run inside the erase or merge transaction: an erase handler scrubs the personal data its
app keeps about those contacts; a merge handler moves its rows from the duplicate to the survivor
before the duplicate is deleted (whatever is left on the duplicate would cascade away).
"""
from collections.abc import Callable

ErasedHandler = Callable[[list[int]], None]
MergedHandler = Callable[[int, int], None]

_erased: list[ErasedHandler] = []
_merged: list[MergedHandler] = []


def on_contacts_erased(fn: ErasedHandler) -> ErasedHandler:
    if fn not in _erased:
        _erased.append(fn)
    return fn


def on_contacts_merged(fn: MergedHandler) -> MergedHandler:
    if fn not in _merged:
        _merged.append(fn)
    return fn


def contacts_erased(contact_ids: list[int]) -> None:
    for fn in _erased:
        fn(contact_ids)


def contacts_merged(survivor_id: int, duplicate_id: int) -> None:
    for fn in _merged:
        fn(survivor_id, duplicate_id)

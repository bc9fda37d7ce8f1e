"""Where the apps above `segments` plug in, so `segments` never imports them.

A higher app registers from its `AppConfig.ready()` the picker options of a rule value type that
it owns (the condition registry already names the type, e.g. "campaign"):

    hooks.on_builder_options("campaign", campaign_options)   # fn() -> [{"value": …, "label": …}]

The segment builder offers those options in its pickers, next to segments' own.

It may also ask to be told when segments gain members:

    hooks.on_entries_recorded(start_flows)   # fn(segment_ids: list[int])

Called once the refresh, re-evaluation or static-list addition that recorded the entries has committed,
with the segments that gained members; the entries themselves are the SegmentMembership rows, whose ids
only grow, so a handler reads those past the last id it read. A handler that fails is logged and leaves
the membership as it was written.
"""

from collections.abc import Callable, Iterable
from functools import partial, update_wrapper

from django.db import transaction

OptionsProvider = Callable[[], list[dict]]
EntriesHandler = Callable[[list[int]], None]

_builder_options: dict[str, OptionsProvider] = {}
_entries: list[EntriesHandler] = []


def on_builder_options(value_type: str, fn: OptionsProvider) -> OptionsProvider:
    _builder_options[value_type] = fn
    return fn


def builder_options() -> dict[str, list[dict]]:
    """Every registered value type's options, read now."""
    return {value_type: fn() for value_type, fn in _builder_options.items()}


def on_entries_recorded(fn: EntriesHandler) -> EntriesHandler:
    if fn not in _entries:
        _entries.append(fn)
    return fn


def entries_recorded(segment_ids: Iterable[int]) -> None:
    """These segments gained members in the current transaction: tell the handlers after it commits."""
    ids = sorted(set(segment_ids))
    if not ids:
        return
    for fn in _entries:
        transaction.on_commit(update_wrapper(partial(fn, ids), fn), robust=True)  # named in the log

"""The condition registry: every rule key with its operators, value types and compiler.

The API's condition catalogue, the builder form and rule validation all read this one
registry. Other apps add keys by defining a `segment_conditions` module that calls
`register(...)` (the campaigns app adds the email-engagement keys that way).
"""

import datetime as dt
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

# Value types a condition's `value` (or an extra key) may take.
VALUE_TYPES = (
    "none",
    "text",
    "text_list",
    "choice",
    "choice_list",
    "int",
    "int_range",
    "number",
    "number_range",
    "date",
    "bool",
    "sku_list",
    "category_list",
    "tag",
    "campaign",
    "segment",
    "attribute_key",
    "date_attribute_key",
    "score",
    "score_range",
)


@dataclass(frozen=True)
class Op:
    value: str
    label: Any


@dataclass(frozen=True)
class Extra:
    type: str
    label: Any
    required: bool = False
    choices: Callable[[], list] | None = None


@dataclass(frozen=True)
class Context:
    """One evaluation's clock, so every condition of a tree sees the same 'now' and 'today'.

    `scan` picks how the conditions over a window of purchases or events that need a count or a sum are
    written: False (the default) probes each contact's own rows through the (contact, …) indexes, which is
    the cheaper plan when the other conditions leave few contacts (one contact re-evaluated, a narrow
    segment); True aggregates the window's rows once, from the time indexes, and keeps the contacts whose
    total passes — the cheaper plan for a condition alone over every contact. Both give the same contacts;
    `segments.selectors` lets PostgreSQL's planner choose between the two.

    `priced` asks a scan for the form whose planned cost follows its work, where the fast form misleads the
    planner (money in a window over the stored periods: it cannot tell how many contacts those give, and
    prices them as a handful). `segments.selectors.cheapest_plan` compares that form with the probes and,
    when the scan wins, runs the fast one, which never does more work.
    """

    now: dt.datetime
    today: dt.date
    tz: dt.tzinfo
    segment_path: tuple[int, ...] = ()
    scan: bool = False
    priced: bool = False

    @classmethod
    def current(cls, now: dt.datetime | None = None, segment_path: tuple[int, ...] = ()) -> "Context":
        now = now or timezone.now()
        tz = timezone.get_default_timezone()
        return cls(now=now, today=timezone.localtime(now, tz).date(), tz=tz, segment_path=segment_path)

    def midnight(self, day: dt.date) -> dt.datetime:
        """The aware start of `day` in TIME_ZONE."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.tz)

    def days_ago(self, days: int) -> dt.datetime:
        return self.now - dt.timedelta(days=days)


@dataclass(frozen=True)
class Condition:
    key: str
    label: Any
    group: Any
    ops: dict[str, Op]
    compile: Callable[[dict, Context], Q]
    extras: dict[str, Extra] = field(default_factory=dict)
    choices: Callable[[], list] | None = None
    help: Any = ""
    # What `compile` reads from the database and writes into the SQL, as a value that changes when that
    # data does: compiled rules are kept for the day (`segments.evaluation`) and compiled anew when it changes.
    compiled_from: Callable[[dict], Hashable] | None = None
    # For a condition whose truth a contact's new site events can change: the event types a node of it reads.
    # The contacts whose events of those types were just stored are re-evaluated against the dynamic segments
    # using it (`segments.services.activities_recorded`); unset: it reads no events.
    events_read: Callable[[dict], Collection[str]] | None = None


_registry: dict[str, Condition] = {}
_discovered = False


def register(condition: Condition) -> Condition:
    _registry[condition.key] = condition
    return condition


def conditions() -> dict[str, Condition]:
    global _discovered
    if not _discovered:
        _discovered = True
        from . import conditions as _builtin  # noqa: F401

        autodiscover_modules("segment_conditions")
    return _registry


def get(key: str) -> Condition | None:
    return conditions().get(key)


def catalogue() -> list[dict]:
    """The registry as JSON-ready data for the API and the builder."""
    items = []
    for condition in conditions().values():
        items.append(
            {
                "field": condition.key,
                "label": str(condition.label),
                "group": str(condition.group),
                "help": str(condition.help),
                "choices": _choices(condition.choices),
                "operators": [
                    {"op": name, "label": str(op.label), "value_type": op.value} for name, op in condition.ops.items()
                ],
                "extra": [
                    {
                        "key": name,
                        "label": str(extra.label),
                        "type": extra.type,
                        "required": extra.required,
                        "choices": _choices(extra.choices),
                    }
                    for name, extra in condition.extras.items()
                ],
            }
        )
    return items


def _choices(source: Callable[[], list] | None) -> list | None:
    if source is None:
        return None
    return [{"value": value, "label": str(label)} for value, label in source()]

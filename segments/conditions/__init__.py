"""The built-in condition keys of CONTRACT.md §3, each compiled to a Q on Contact.

Rules of the house: every compiled condition is a plain WHERE fragment (column tests,
EXISTS or scalar subqueries) so the whole tree stays ONE query; a contact whose field is
missing never satisfies a positive condition (each fragment is FALSE, never NULL, for it)
and so does satisfy its `not`.

One module per group of the builder; each lists its conditions in CONDITIONS and this
package registers them in GROUPS order, which is the order the API's catalogue and the
builder show (other apps' `segment_conditions` modules come after).
"""

from ..registry import register
from . import attributes, behaviour, club, consent, custom_dates, dates, lists, profile, purchases, rfm
from .attributes import JsonNumber, JsonText
from .base import compare_range, compare_text, norm, text_expr
from .club import active_members
from .consent import q_email_consent
from .dates import anniversary_q, time_compile, window_days
from .profile import shift_years
from .purchases import items_bought, purchases_filtered

GROUPS = (profile, dates, custom_dates, attributes, consent, club, purchases, rfm, behaviour, lists)

for _group in GROUPS:
    for _condition in _group.CONDITIONS:
        register(_condition)

__all__ = [
    "GROUPS",
    "JsonNumber",
    "JsonText",
    "active_members",
    "anniversary_q",
    "compare_range",
    "compare_text",
    "items_bought",
    "norm",
    "purchases_filtered",
    "q_email_consent",
    "shift_years",
    "text_expr",
    "time_compile",
    "window_days",
]

"""RFM: the stored 1–5 scores and their named segments (champions, at risk, …), both owned by contacts.rfm."""

from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from contacts.models import RfmSegment
from contacts.rfm import rfm_segment_q

from ..registry import Condition, Context, Op
from .base import CHOICE_ONE_OF_OPS, PURCHASES, chosen_values, compare_range

SCORE_OPS = {
    "eq": Op("score", _("is")),
    "gte": Op("score", _("at least")),
    "lte": Op("score", _("at most")),
    "between": Op("score_range", _("between")),
}
SCORE_HELP = _(
    "1–5 against the quintiles of all buyers (5 = best), recomputed nightly; contacts who never bought have none."
)


def _score_condition(field: str, label) -> Condition:
    def compile_(cond: dict, ctx: Context) -> Q:
        """Unscored contacts are FALSE here, not NULL, so they match the condition's `not`."""
        return Q(**{f"{field}__isnull": False}) & compare_range(F(field), cond["op"], cond["value"])

    return Condition(key=field, label=label, group=PURCHASES, ops=SCORE_OPS, compile=compile_, help=SCORE_HELP)


def compile_rfm_segment(cond: dict, ctx: Context) -> Q:
    found = Q(pk__in=[])
    for name in dict.fromkeys(chosen_values(cond)):  # a name given twice is one term
        found |= rfm_segment_q(name)
    return found


CONDITIONS = (
    _score_condition("rfm_recency", _("RFM recency score")),
    _score_condition("rfm_frequency", _("RFM frequency score")),
    _score_condition("rfm_monetary", _("RFM monetary score")),
    Condition(
        key="rfm_segment",
        label=_("RFM segment"),
        group=PURCHASES,
        ops=CHOICE_ONE_OF_OPS,
        compile=compile_rfm_segment,
        choices=lambda: RfmSegment.choices,
        help=_("Named cells of the recency × frequency scores, e.g. champions (bought lately and often)."),
    ),
)

"""Holdout comparison (CONTRACT §7): did the mailed contacts buy more than the held-out ones?

The same arithmetic for a campaign (treated = its delivered messages, holdout = its held-out ones) and a flow
(treated = the enrollments not held out, holdout = the held-out ones: a flow draws its holdout when contacts
enter, before anything decides whether they will be mailed); the callers count, this module judges. A
contact converts when it made at least one purchase, any channel, attributed or not, within the window after
the mailing started.

- treated_conversion_rate, holdout_conversion_rate = converted / group size
- lift = treated rate / holdout rate − 1
- lift_ci95 = the 95 % interval of the rate difference (treated − holdout), normal approximation:
  d ± 1.96 · √(pₜ(1 − pₜ)/nₜ + pₕ(1 − pₕ)/nₕ)
- incremental_revenue = (treated revenue per contact − holdout revenue per contact) × treated size

Each is None where its divisor is 0. `verdict` puts the interval into words, so nobody reads a lift of +40 %
from 12 contacts as a result.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

Z95 = 1.959963984540054
RATE_DIGITS = 4
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Groups:
    """What the caller counted: group sizes, contacts with a purchase in the window, their revenue there."""

    treated: int
    treated_converted: int
    treated_revenue: Decimal
    holdout: int
    holdout_converted: int
    holdout_revenue: Decimal


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, RATE_DIGITS)


def lift_stats(groups: Groups) -> dict:
    """The holdout numbers of CONTRACT §7, with the verdict's key and words."""
    treated_rate = _rate(groups.treated_converted, groups.treated)
    holdout_rate = _rate(groups.holdout_converted, groups.holdout)
    lift = treated_rate / holdout_rate - 1 if treated_rate is not None and holdout_rate else None
    interval = None
    if treated_rate is not None and holdout_rate is not None:
        difference = treated_rate - holdout_rate
        error = math.sqrt(
            treated_rate * (1 - treated_rate) / groups.treated + holdout_rate * (1 - holdout_rate) / groups.holdout
        )
        interval = [round(difference - Z95 * error, RATE_DIGITS), round(difference + Z95 * error, RATE_DIGITS)]
    incremental = None
    if groups.treated and groups.holdout:
        per_treated = Decimal(groups.treated_revenue) / groups.treated
        per_held = Decimal(groups.holdout_revenue) / groups.holdout
        incremental = ((per_treated - per_held) * groups.treated).quantize(CENTS)
    key, words = verdict(groups, interval)
    return {
        "holdout_size": groups.holdout,
        "treated_size": groups.treated,
        "treated_conversion_rate": _rounded(treated_rate),
        "holdout_conversion_rate": _rounded(holdout_rate),
        "lift": _rounded(lift),
        "lift_ci95": interval,
        "incremental_revenue": incremental,
        "verdict": key,
        "verdict_text": words,
    }


def verdict(groups: Groups, interval: list[float] | None) -> tuple[str, str]:
    """One of no_holdout, waiting, no_effect, positive, negative, and a sentence a marketer can act on."""
    if not groups.holdout:
        return "no_holdout", _("No holdout group: nothing to compare the mailed contacts with.")
    if interval is None:
        return "waiting", _("No mailed contacts yet: nothing to compare the holdout group with.")
    low, high = interval
    if low > 0:
        return "positive", _(
            "The mail made a difference: mailed contacts bought more often than the holdout group "
            "(the 95%% interval of the difference, %(low)s to %(high)s points, is above 0)."
        ) % {"low": _points(low), "high": _points(high)}
    if high < 0:
        return "negative", _(
            "Mailed contacts bought less often than the holdout group "
            "(the 95%% interval of the difference, %(low)s to %(high)s points, is below 0)."
        ) % {"low": _points(low), "high": _points(high)}
    return "no_effect", _(
        "No measurable effect yet: the 95%% interval of the difference, %(low)s to %(high)s points, includes 0. "
        "Wait for more purchases or use a larger holdout."
    ) % {"low": _points(low), "high": _points(high)}


def _points(fraction: float) -> str:
    """A rate difference in percentage points, signed (+1.2, -0.4), isolated left to right so that a Hebrew
    sentence keeps the sign before the number."""
    return f"\u2066{fraction * 100:+.1f}\u2069"

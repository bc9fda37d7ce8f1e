"""How a flow's page words what its mails sold and what its holdout shows: rates as percentages, the
interval in percentage points, money with two decimals, in the reader's locale. The numbers themselves are
`selectors.flow_stats`'; the verdict sentence is `campaigns.reports.lift`'s."""

from decimal import Decimal

from django.utils import formats


def _percent(fraction: float | None, *, signed: bool = False) -> str:
    if fraction is None:
        return "—"
    number = formats.number_format(round(fraction * 100, 1), decimal_pos=1)
    return f"{'+' if signed and fraction > 0 else ''}{number}%"


def _points(fraction: float) -> str:
    number = formats.number_format(round(fraction * 100, 1), decimal_pos=1)
    return f"{'+' if fraction > 0 else ''}{number}"


def _money(amount: Decimal | None) -> str:
    return "—" if amount is None else formats.number_format(amount, decimal_pos=2, force_grouping=True)


def holdout_figures(stats: dict) -> dict[str, str]:
    """The holdout block's figures as shown: treated and holdout conversion, lift, its interval, incremental
    revenue ("—" where a divisor is 0)."""
    interval = stats["lift_ci95"]
    return {
        "treated_rate": _percent(stats["treated_conversion_rate"]),
        "holdout_rate": _percent(stats["holdout_conversion_rate"]),
        "lift": _percent(stats["lift"], signed=True),
        "interval": f"{_points(interval[0])} … {_points(interval[1])}" if interval else "—",
        "incremental_revenue": _money(stats["incremental_revenue"]),
    }


def money_figures(row: dict) -> dict[str, str]:
    """A step's (or the flow's) money as shown."""
    return {
        name: _money(row.get(name)) for name in ("revenue", "in_store_revenue", "revenue_per_recipient") if name in row
    }

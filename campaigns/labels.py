"""Labels inside a mail — club tiers, channels, dates, money — in the language of whoever reads it.

A mail is made wherever sending happens: in a worker, or in a marketer's request (preview, test,
send now) whose language is the marketer's. So the contexts carry labels as lazy strings, and
`campaigns.rendering.render` turns them into text with the recipient's language active
(`label_language`): the one decision, taken once per mail.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.functional import lazy
from django.utils.translation import get_language

# Where the currency sign goes, per language: before the number ("₪1,234.50") or after it ("1,234.50 ₪").
SIGN_AFTER = frozenset({"he"})
CENTS = Decimal("0.01")
CURRENCY_SIGNS = {"ILS": "₪", "USD": "$", "EUR": "€", "GBP": "£"}


def label_language(contact_language: str | None, fallback: str) -> str:
    """The recipient's language when it is one the site speaks ("he-IL" counts as "he"), else `fallback`
    (the mail's own language)."""
    code = (contact_language or "").strip().lower().replace("_", "-").partition("-")[0]
    return code if code in dict(settings.LANGUAGES) else fallback


def money_label(amount: Decimal | int | float | str | None, currency: str = "ILS") -> str:
    """An amount with its currency sign and thousands grouped, as the active language writes it."""
    if amount is None or amount == "":
        return ""
    language = (get_language() or settings.LANGUAGE_CODE).partition("-")[0]
    number = numberformat.format(
        Decimal(str(amount)).quantize(CENTS, rounding=ROUND_HALF_UP),  # the formatter cuts, it does not round
        str(get_format("DECIMAL_SEPARATOR")),
        decimal_pos=2,
        grouping=3,
        thousand_sep=str(get_format("THOUSAND_SEPARATOR")),
        force_grouping=True,
    )
    sign = CURRENCY_SIGNS.get((currency or "").upper(), currency or "")
    if not sign:
        return number
    if language in SIGN_AFTER:
        return f"{number} {sign}"
    return f"{sign}{number}" if len(sign) == 1 else f"{sign} {number}"


# Evaluated when the template renders, in the language active then (the recipient's).
lazy_money_label = lazy(money_label, str)

"""Where online visits and orders came from: the utm_source / utm_medium / utm_campaign of paid channels.

A share of online purchases and page views carries the UTM tags of the ad that brought the visitor, so channel
reports (revenue and ROMI per utm_source) have data. The tags are drawn from the chunk's own `traffic`
generator, apart from the main one, so tagging never shifts the numbers the rest of the data set draws.
"""

import random

# (utm_source, utm_medium, weight, utm_campaign values)
PAID = [
    ("google", "cpc", 40, ["brand", "pet-food", "contact-lenses", "coffee-capsules"]),
    ("facebook", "paid_social", 35, ["club-join", "summer-sale", "new-parents"]),
    ("instagram", "paid_social", 25, ["skin-care", "summer-sale", "gift-ideas"]),
]
ONLINE_PURCHASE_SHARE = 0.45  # of online purchases, those that came from an ad
PAGE_VIEW_SHARE = 0.3  # of page views, those that landed from an ad
UNTAGGED = ("", "", "")


def utm_tags(rng: random.Random, share: float) -> tuple[str, str, str]:
    """(utm_source, utm_medium, utm_campaign) of a paid channel for `share` of the calls, else empty."""
    if rng.random() >= share:
        return UNTAGGED
    source, medium, _weight, campaigns = rng.choices(PAID, weights=[p[2] for p in PAID])[0]
    return source, medium, rng.choice(campaigns)

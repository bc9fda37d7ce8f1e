"""A deterministic, realistic demo data set for a retail club.

`seed_demo(contacts=N, seed=S)` fills an empty database with an Israeli retail chain's audience:
Hebrew and English names, cities with their districts, +972 mobiles, stores, a catalogue with
replenishment cycles, purchases online and in store, site activity along the funnel, club members
with a points ledger, consent with its log, tags and custom fields.

Determinism: the same seed gives the same rows. Random numbers come from one generator per chunk
of contacts, seeded from (seed, chunk number), so the data never depends on memory or speed.
Timestamps are offsets back from an anchor, by default midnight at the start of today in
TIME_ZONE: two runs on the same day are identical, and the data set always ends "now" so
lifecycle stages (new, active, at risk, lapsed) are meaningful whenever it is loaded.

Scale: rows are generated one chunk of contacts at a time and written in bulk — COPY on
PostgreSQL, bulk_create elsewhere — so memory stays bounded at any size. Derived fields (purchase
aggregates, funnel stage, RFM) are then set by the set-based services, in id ranges.

Layout: `seed` (the entry point and the derived-field refresh), `catalogue` (stores, products, tags,
custom fields, cities), `chunk` (one chunk of contacts, built from the `people`, `consent`,
`purchases`, `events` and `club` parts, with the ad channels' UTM tags from `traffic`) and `writer`
(COPY or bulk_create).

The apps above contacts add their own part (campaigns: mail and what it brought in) through
`contacts.hooks.on_demo_seeded`, in the same transaction, once the contacts part is complete.
"""

from .catalogue import Catalogue, catalogue_ensure
from .people import phone_for
from .seed import DEFAULT_CONTACTS, DEFAULT_SEED, default_anchor, demo_data_present, derived_refresh, seed_demo
from .writer import Result, Writer

__all__ = [
    "DEFAULT_CONTACTS",
    "DEFAULT_SEED",
    "Catalogue",
    "Result",
    "Writer",
    "catalogue_ensure",
    "default_anchor",
    "demo_data_present",
    "derived_refresh",
    "phone_for",
    "seed_demo",
]

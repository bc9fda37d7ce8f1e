"""The campaigns part of the demo data set (`manage.py seed_demo`): mail that tells the measurement story.

Three templates (Hebrew and English) and three segments, five campaigns sent over the last ~90 days with human
and machine opens and clicks, the purchases the mail brought (online, and in store by club members), a holdout
on the biggest sale so its lift can be read, a cost on every campaign, and spend per channel so ROMI has both
sides. Deterministic from the seed and the anchor, like the contacts part it builds on.

Layout: `content` (what the mailings are and how each is received), `mail` (one mailing played out recipient
by recipient, as rows), `seed` (the entry point: set-up, bulk writes, then attribution and the refreshes) and
`spend` (spend per channel and month).
"""

from .seed import campaigns_demo_seed

__all__ = ["campaigns_demo_seed"]

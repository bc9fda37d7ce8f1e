"""Set-based ingestion of partner batches: purchases and site events.

A batch of up to a thousand items costs a fixed number of queries whatever its size: every item is
validated by the single-item serializer (no query), the contacts, products and stores the items name are
resolved with one query per kind, the (source, external_id) / event_id keys already stored are found
with one query, the new rows go in with one INSERT per table, and the derived state of the affected
contacts is refreshed set-based by the services in `contacts.services`. Invalid items are reported by
index and never stop the valid ones.

Idempotency: a key already stored (or repeated inside the batch) counts as a duplicate. When two
identical batches race, the loser's bulk insert hits the unique constraints and the batch is replayed
item by item through the single-item path, whose services resolve each conflict to the stored row.
"""

from .common import rows_insert
from .events import activities_track_bulk, activity_ingest, activity_submit
from .purchases import purchase_ingest, purchase_submit, purchases_record_bulk

__all__ = [
    "activities_track_bulk",
    "activity_ingest",
    "activity_submit",
    "purchase_ingest",
    "purchase_submit",
    "purchases_record_bulk",
    "rows_insert",
]

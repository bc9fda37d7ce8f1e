"""Bulk writes of a chunk's rows, table by table, and the counts the command reports."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, models
from django.db.models import ForeignObjectRel

from contacts.models import (
    Activity,
    ConsentEvent,
    Contact,
    LoyaltyMember,
    PointsEntry,
    Purchase,
    PurchaseItem,
)

from .base import CHUNK, Rows


@dataclass
class Result:
    """What one load wrote, per table; `skipped` when contacts were there already."""

    contacts: int = 0
    purchases: int = 0
    items: int = 0
    events: int = 0
    members: int = 0
    points_entries: int = 0
    consent_events: int = 0
    skipped: bool = False


TagLink = Contact.tags.through
FIELDS: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "contacts": (
        Contact,
        (
            "id",
            "email",
            "phone",
            "external_id",
            "first_name",
            "last_name",
            "gender",
            "birth_date",
            "wedding_date",
            "marital_status",
            "city",
            "region",
            "country",
            "language",
            "source",
            "source_detail",
            "signed_up_at",
            "attributes",
            "email_opt_in",
            "sms_opt_in",
            "email_status",
            "referred_by_id",
            "funnel_stage",
            "purchase_count",
            "total_spent",
            "created_at",
            "updated_at",
        ),
    ),
    "purchases": (
        Purchase,
        (
            "id",
            "contact_id",
            "source",
            "external_id",
            "channel",
            "store_id",
            "purchased_at",
            "total",
            "currency",
            "created_at",
            "utm_source",
            "utm_medium",
            "utm_campaign",
        ),
    ),
    "items": (PurchaseItem, ("purchase_id", "product_id", "quantity", "unit_price")),
    "events": (
        Activity,
        (
            "contact_id",
            "anonymous_id",
            "type",
            "occurred_at",
            "product_id",
            "url",
            "properties",
            "created_at",
            "utm_source",
            "utm_medium",
            "utm_campaign",
        ),
    ),
    "members": (
        LoyaltyMember,
        ("id", "contact_id", "card_number", "tier", "status", "joined_at", "home_store_id", "points"),
    ),
    "points": (PointsEntry, ("member_id", "delta", "balance_after", "reason", "reference", "created_at")),
    "consent": (ConsentEvent, ("contact_id", "channel", "granted", "source", "text_shown", "occurred_at")),
    "tags": (TagLink, ("contact_id", "tag_id")),
}


class Writer:
    """Bulk writes: COPY on PostgreSQL (fast at millions of rows), bulk_create elsewhere."""

    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"

    def write_all(self, rows: Rows, result: Result) -> None:
        for name in ("contacts", "purchases", "items", "events", "members", "points", "consent", "tags"):
            model, fields = FIELDS[name]
            self.write(model, fields, getattr(rows, name))
        result.contacts += len(rows.contacts)
        result.purchases += len(rows.purchases)
        result.items += len(rows.items)
        result.events += len(rows.events)
        result.members += len(rows.members)
        result.points_entries += len(rows.points)
        result.consent_events += len(rows.consent)

    def write(self, model: type[models.Model], fields: Sequence[str], rows: list) -> None:
        if not rows:
            return
        if self.copy:
            self._copy(model, fields, rows)
        else:
            model._default_manager.bulk_create(
                [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=CHUNK
            )

    def _copy(self, model: type[models.Model], fields: Sequence[str], rows: list) -> None:
        meta = model._meta
        columns = [_column(meta.get_field(f)) for f in fields]
        json_at = [i for i, f in enumerate(fields) if isinstance(meta.get_field(f), models.JSONField)]
        quote = connection.ops.quote_name
        sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = json.dumps(row[i], ensure_ascii=False)
                copy.write_row(row)

    def analyze(self) -> None:
        """Give PostgreSQL's planner the statistics of the tables just written, before anything reads them in
        the same transaction (autovacuum cannot see uncommitted rows). Without them it plans the derived
        fields' statements as if the tables were nearly empty: reading each buyer's last purchases again took
        25 s and more per 10,000 contacts instead of well under one."""
        if not self.copy:
            return
        with connection.cursor() as cursor:  # every table: the triggers of these ones wrote derived tables too
            cursor.execute("ANALYZE")

    def reset_sequences(self) -> None:
        """Rows were written with explicit ids; move the id sequences past them."""
        from django.core.management.color import no_style

        statements = connection.ops.sequence_reset_sql(no_style(), [Contact, Purchase, LoyaltyMember])
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _column(field: models.Field | ForeignObjectRel) -> str:
    assert isinstance(field, models.Field) and field.column is not None, f"{field} is not a concrete field"
    return field.column

"""What a batch shares whatever its kind: its contacts, products and stores resolved with one query per
kind, and rows inserted in one statement."""

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Contact, LoyaltyMember
from ..purchase_stats import id_list
from ..serializers import MAX_BATCH
from ..services import contact_changed, identifiers_conflict

Errors = dict[str, list]
REF_FIELDS = {"id": "contact", "card": "card_number", "email": "email"}


def contact_refs(item: dict) -> list[tuple[str, Any]]:
    """Every contact identifier a validated item gives, in the order the services resolve them: id, club
    card, email. The first one names the contact; the others must agree with it (checked by `Contacts`)."""
    refs = (("id", item.get("contact")), ("card", item.get("card_number")), ("email", item.get("email")))
    return [(kind, value) for kind, value in refs if value]


class Contacts:
    """Contact ids for a batch's references; unknown emails become new contacts (as the services do)."""

    def __init__(self, items: Iterable[list[tuple[str, Any]]]):
        items = list(items)
        refs = [ref for item in items for ref in item]
        ids = {v for k, v in refs if k == "id"}
        cards = {v for k, v in refs if k == "card"}
        found = list(Contact.objects.filter(pk__in=id_list(ids)).values_list("pk", "erased_at")) if ids else []
        self.by_id = {pk for pk, _erased_at in found}
        self.erased = {pk for pk, erased_at in found if erased_at is not None}
        members = LoyaltyMember.objects.filter(card_number__in=text_list(cards), contact__erased_at__isnull=True)
        self.by_card = dict(members.values_list("card_number", "contact_id")) if cards else {}
        self.by_email: dict[str, int] = {}
        # Emails given beside an id or a card are only compared with it (never create a contact).
        self.owner_of_email = lookup(Contact, "email", {v for item in items for k, v in item[1:] if k == "email"})

    def check(self, refs: list[tuple[str, Any]]) -> Errors:
        """Unknown ids and cards, then identifiers of one item that name different contacts."""
        problems: Errors = {}
        for ref in refs:
            problems.update(self._check_one(ref))
        if problems or len(refs) < 2:
            return problems
        return identifiers_conflict({REF_FIELDS[kind]: self._owner(kind, value) for kind, value in refs})

    def _owner(self, kind: str, value: Any) -> int | None:
        if kind == "id":
            return value
        return self.by_card.get(value) if kind == "card" else self.owner_of_email.get(value)

    def _check_one(self, ref: tuple[str, Any]) -> Errors:
        kind, value = ref
        if kind == "id" and value not in self.by_id:
            return {"contact": [_("Contact %(id)s does not exist.") % {"id": value}]}
        if kind == "id" and value in self.erased:
            return {"contact": [_("Contact %(id)s has been erased and can no longer be changed.") % {"id": value}]}
        if kind == "card" and value not in self.by_card:
            return {"card_number": [_("No club member has card %(card)s.") % {"card": value}]}
        return {}

    def create_missing(self, emails: set[str], source: str) -> None:
        """Find the contacts of these emails, creating the missing ones in one insert."""
        if not emails:
            return
        self.by_email = lookup(Contact, "email", emails)
        missing = emails - set(self.by_email)
        if missing:
            now = timezone.now()
            Contact.objects.bulk_create(
                [Contact(email=e, source=source, signed_up_at=now) for e in sorted(missing)],
                ignore_conflicts=True,
            )
            self.by_email = lookup(Contact, "email", emails)
            contact_changed(self.by_email[e] for e in missing if e in self.by_email)

    def id_for(self, ref: tuple[str, Any] | None) -> int | None:
        if ref is None:
            return None
        kind, value = ref
        if kind == "id":
            return value
        return self.by_card[value] if kind == "card" else self.by_email.get(value)


def text_list(values: Iterable[str]) -> Any:
    """What `field__in=` takes for a batch's strings: on PostgreSQL one array parameter, so a thousand
    values cost neither a thousand placeholders to parse (client and server) nor a new statement text."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[])", [list(values)])
    return list(values)


def lookup(model: Any, field: str, values: set) -> dict:
    return dict(model.objects.filter(**{f"{field}__in": text_list(values)}).values_list(field, "pk")) if values else {}


def batch_result(created: int, duplicates: int, errors: dict[int, Errors]) -> dict:
    """The answer to a batch; each item's errors as field → messages, as in any 400."""
    return {
        "created": created,
        "duplicates": duplicates,
        "errors": [
            {"index": i, "errors": {field: ValidationError(messages).messages for field, messages in errors[i].items()}}
            for i in sorted(errors)
        ],
    }


def rows_insert(
    model: Any,
    columns: tuple[str, ...],
    rows: Sequence[tuple],
    *,
    returning: bool = True,
) -> list[int]:
    """Insert already validated rows in one statement and return their ids in order.

    On PostgreSQL: `INSERT … SELECT FROM json_to_recordset(…)`, the rows sent as one JSON document read with
    each column's type. That skips building a model instance per row (what `bulk_create` costs), and quoting
    every value one by one: a thousand purchases' twelve columns sent as one array per column took 25–45 ms
    of Python, as one document 13–20 ms. Elsewhere: `bulk_create`.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        batch_size = MAX_BATCH if len(columns) > 5 else 3 * MAX_BATCH
        model.objects.bulk_create(objs, batch_size=batch_size)
        return [obj.pk for obj in objs]
    insert, document = recordset_insert(model, columns, rows)
    with connection.cursor() as cursor:
        cursor.execute(insert + (" RETURNING id" if returning else ""), [document])
        return [row[0] for row in cursor.fetchall()] if returning else []


def recordset_insert(model: Any, columns: tuple[str, ...], rows: Sequence[tuple]) -> tuple[str, str]:
    """PostgreSQL: `INSERT INTO table (columns) SELECT … FROM json_to_recordset(%s::json)` and the JSON document
    that holds `rows`, as `rows_insert` sends them (a caller may add ON CONFLICT or RETURNING)."""
    fields = [model._meta.get_field(name) for name in columns]
    names = [f"c{n}" for n in range(len(fields))]
    # Decimals, dates and datetimes as their text, which each column's type reads exactly.
    document = json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=str, ensure_ascii=False)
    sql = "INSERT INTO {table} ({columns}) SELECT {names} FROM json_to_recordset(%s::json) AS t({types})".format(
        table=connection.ops.quote_name(model._meta.db_table),
        columns=", ".join(connection.ops.quote_name(f.column) for f in fields),
        names=", ".join(names),
        types=", ".join(f"{name} {field.db_type(connection)}" for name, field in zip(names, fields, strict=True)),
    )
    return sql, document


def rows_copy(model: Any, columns: tuple[str, ...], rows: Sequence[tuple]) -> None:
    """Insert already validated rows into a table with no id to return (a queue): on PostgreSQL by a binary COPY,
    each value sent in its column's type (a thousand events: ~10 ms against ~22 ms as one JSON document read by
    `rows_insert`); elsewhere `bulk_create`."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        rows_insert(model, columns, rows, returning=False)
        return
    fields = [model._meta.get_field(name) for name in columns]
    types = [re.sub(r"\(.*\)", "", field.db_type(connection)) for field in fields]  # varchar(100) -> varchar
    names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)

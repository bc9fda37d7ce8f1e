"""Values the builder's pickers suggest as a marketer types: cities, regions, product SKUs and names,
categories, tags and campaigns, by prefix and at most `limit` of each.

Contacts run to millions, so cities and regions are never read with a DISTINCT over the table: a
recursive query hops from one value to the next through the normalized index (`lower(trim(city))`),
one index probe per suggestion ("loose index scan"), and stops at the first value past the prefix.
Categories hop the same way through their own index. Products, tags and campaigns are small
catalogues read with a bounded prefix filter.
"""

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Lower

from contacts.models import Contact, Product, Tag

from . import hooks

KINDS = ("city", "region", "product", "category", "tag", "campaign")
CATEGORY_SCAN = 500  # distinct categories hopped through at most


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def distinct_by_index(table: str, expr: str, label: str, prefix: str, limit: int) -> list[tuple[str, str]]:
    """(value, label) of the first `limit` distinct non-blank `expr` values starting with `prefix`.

    `expr` must be an indexed expression of `table` (each hop is a MIN over it, which the database
    answers from the index); `label` is how one row with that value shows it."""
    sql = f"""
        WITH RECURSIVE found(v, n) AS (
            SELECT (SELECT MIN({expr}) FROM {table} WHERE {expr} >= %s), 0
            UNION ALL
            SELECT (SELECT MIN({expr}) FROM {table} WHERE {expr} > found.v), found.n + 1
            FROM found WHERE found.v LIKE %s ESCAPE '\\' AND found.n < %s
        )
        SELECT v, (SELECT {label} FROM {table} WHERE {expr} = found.v LIMIT 1)
        FROM found WHERE v LIKE %s ESCAPE '\\' AND v <> '' LIMIT %s
    """  # table and expressions are constants of this module; the prefix is a parameter
    like = _escape_like(prefix) + "%"
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix, like, limit + 1, like, limit])
        return [(value, shown or value) for value, shown in cursor.fetchall()]


def _place(column: str, prefix: str, limit: int) -> list[dict]:
    table = connection.ops.quote_name(Contact._meta.db_table)
    expr = f"LOWER(TRIM({column}))"
    rows = distinct_by_index(table, expr, f"TRIM({column})", prefix.lower(), limit)
    return [{"value": label, "label": label} for _value, label in rows]


def _categories(prefix: str, limit: int) -> list[dict]:
    table = connection.ops.quote_name(Product._meta.db_table)
    rows = distinct_by_index(table, "category", "category", "", CATEGORY_SCAN)
    wanted = prefix.lower()
    return [{"value": value, "label": value} for value, _label in rows if value.lower().startswith(wanted)][:limit]


def _products(prefix: str, limit: int) -> list[dict]:
    found = Product.objects.filter(Q(sku__startswith=prefix) | Q(sku__startswith=prefix.upper()))
    if len(prefix) >= 2:
        found = found | Product.objects.annotate(lname=Lower("name")).filter(lname__startswith=prefix.lower())
    return [{"value": p.sku, "label": f"{p.name} ({p.sku})"} for p in found.order_by("name", "sku")[:limit]]


def _tags(prefix: str, limit: int) -> list[dict]:
    names = Tag.objects.annotate(lname=Lower("name")).filter(lname__startswith=prefix.lower())
    return [{"value": name, "label": name} for name in names.order_by("lname").values_list("name", flat=True)[:limit]]


def _campaigns(prefix: str, limit: int) -> list[dict]:
    """Campaigns belong to the app above: its own bounded list, filtered here."""
    options = hooks.builder_options().get("campaign", [])
    wanted = prefix.lower()
    return [o for o in options if wanted in str(o["label"]).lower()][:limit]


def value_suggestions(*, kind: str, prefix: str, limit: int = 20) -> list[dict]:
    """What to offer for `prefix` in a picker of `kind` (one of KINDS)."""
    prefix = prefix.strip()
    if kind in ("city", "region"):
        return _place(kind, prefix, limit)
    readers = {"product": _products, "category": _categories, "tag": _tags, "campaign": _campaigns}
    return readers[kind](prefix, limit)

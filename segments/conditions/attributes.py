"""Tags and custom fields (`Contact.attributes`, read as JSON text or number on each backend)."""

from typing import Any

from django.db.models import Exists, F, FloatField, Func, OuterRef, Q, TextField, Value
from django.db.models.functions import Coalesce, Length, Lower, Trim
from django.db.models.lookups import Exact, GreaterThan, In, IsNull, LessThan
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact

from ..registry import Condition, Context, Extra, Op
from .base import PROFILE, norm


def compile_tag(cond: dict, ctx: Context) -> Q:
    through = Contact.tags.through
    has = Exists(
        through.objects.filter(contact_id=OuterRef("pk")).filter(Exact(Lower(Trim("tag__name")), norm(cond["value"])))
    )
    return Q(has) if cond["op"] == "has" else ~Q(has)


class _AttributeKey(Func):
    """One key of `Contact.attributes`; subclasses say how each backend reads it."""

    def __init__(self, key: str):
        super().__init__(F("attributes"))
        self.key = key

    def _attributes(self, compiler) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return sql, list(params)

    @property
    def _sqlite_path(self) -> str:
        return f'$."{self.key}"'


class JsonText(_AttributeKey):
    """Text of one key of `attributes` (booleans as true/false on every backend); NULL if absent."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self._attributes(compiler)
        return f"({sql} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = self._attributes(compiler)
        path = self._sqlite_path
        return (
            f"(CASE json_type({sql}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"WHEN 'null' THEN NULL ELSE CAST(json_extract({sql}, %s) AS TEXT) END)",
            [*params, path, *params, path],
        )


class JsonNumber(_AttributeKey):
    """Numeric value of one key of `attributes`; NULL unless it is stored as a JSON number."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = self._attributes(compiler)
        return (
            f"(CASE WHEN jsonb_typeof({sql} -> %s) = 'number' THEN ({sql} ->> %s)::double precision END)",
            [*params, self.key, *params, self.key],
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = self._attributes(compiler)
        path = self._sqlite_path
        return (
            f"(CASE WHEN json_type({sql}, %s) IN ('integer', 'real') THEN CAST(json_extract({sql}, %s) AS REAL) END)",
            [*params, path, *params, path],
        )


def compile_attribute(cond: dict, ctx: Context) -> Q:
    key, op = cond["key"], cond["op"]
    value: Any = cond.get("value")  # a number, a list or text, as the operator says (checked by `rules.validate`)
    text = Lower(Trim(JsonText(key)))
    present = Q(GreaterThan(Coalesce(Length(Trim(JsonText(key))), Value(0)), 0))
    if op == "exists":
        return present
    if op == "not_exists":
        return ~present
    if op in ("gt", "lt"):
        lookup = GreaterThan if op == "gt" else LessThan
        return Q(IsNull(JsonNumber(key), False)) & Q(lookup(JsonNumber(key), float(value)))
    if op == "in":
        return present & Q(In(text, [norm(v) for v in value]))
    test = present & Q(Exact(text, norm(value)))
    return present & ~test if op == "neq" else test


CONDITIONS = (
    Condition(
        key="tag",
        label=_("Tag"),
        group=PROFILE,
        ops={"has": Op("tag", _("has")), "has_not": Op("tag", _("has not"))},
        compile=compile_tag,
    ),
    Condition(
        key="attribute",
        label=_("Custom field"),
        group=PROFILE,
        ops={
            "eq": Op("text", _("is")),
            "neq": Op("text", _("is not")),
            "in": Op("text_list", _("is one of")),
            "gt": Op("number", _("greater than")),
            "lt": Op("number", _("less than")),
            "exists": Op("none", _("is filled in")),
            "not_exists": Op("none", _("is empty")),
        },
        extras={"key": Extra("attribute_key", _("field"), required=True)},
        compile=compile_attribute,
    ),
)

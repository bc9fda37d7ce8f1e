"""Membership of another segment: a dynamic one's rules inlined, a static list's members (segments.rules)."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..registry import Condition, Context, Extra
from .base import BOOL_OPS, LISTS


def compile_in_segment(cond: dict, ctx: Context) -> Q:
    from ..rules import segment_condition_q

    q = segment_condition_q(int(cond["segment"]), ctx)
    return q if cond["value"] else ~q


CONDITIONS = (
    Condition(
        key="in_segment",
        label=_("In segment"),
        group=LISTS,
        ops=BOOL_OPS,
        extras={"segment": Extra("segment", _("segment"), required=True)},
        compile=compile_in_segment,
    ),
)

"""What the rule builder's page needs from the server: picker options, its own words, the live count
with errors pinned to rows, and value suggestions."""

import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.models import CustomField, Product, Tag
from crm.parsers import depth_exceeds

from .. import hooks
from ..models import Segment
from ..rule_errors import rule_errors
from ..rules import RuleError, validate
from ..selectors import rules_preview
from ..suggestions import KINDS, value_suggestions

MAX_RULES_BYTES = 64 * 1024  # a tree at every size cap stays far below this
MAX_PREFIX = 100


def builder_options() -> dict:
    """What the builder's pickers offer, kept small: a few hundred of each at most. Value types of the
    apps above segments (campaigns) come from `hooks`."""
    return {
        "sku_list": [{"value": p.sku, "label": p.name} for p in Product.objects.order_by("sku")[:500]],
        "tag": [{"value": t.name, "label": t.name} for t in Tag.objects.order_by("name")[:500]],
        "segment": [{"value": s.pk, "label": s.name} for s in Segment.objects.order_by("name")[:500]],
        "attribute_key": [{"value": f.key, "label": f.label} for f in CustomField.objects.order_by("key")],
        "date_attribute_key": [
            {"value": f.key, "label": f.label}
            for f in CustomField.objects.filter(type=CustomField.Type.DATE).order_by("key")
        ],
        **hooks.builder_options(),
    }


def builder_text() -> dict:
    """The builder's own words, translated on the server."""
    return {
        "all": _("ALL of these"),
        "any": _("ANY of these"),
        "none": _("NONE of these"),
        "add_condition": _("+ condition"),
        "add_group": _("+ group"),
        "remove": _("remove"),
        "choose_field": _("choose a field…"),
        "preview": _("Preview"),
        "matches": _("contacts match"),
        "counting": _("counting…"),
        "took": _("query took"),
        "ms": _("ms"),
        "optional": _("optional"),
        "json": _("Edit as JSON"),
        "yes": _("yes"),
        "no": _("no"),
        "from": _("from"),
        "to": _("to"),
        "comma": _("comma-separated"),
        "name": _("Name"),
        "email": _("Email"),
        "city": _("City"),
        "error": _("Fix the rules first:"),
        "fix_rows": _("Fix the rows marked in red to see the count."),
        "unreachable": _("The count could not be fetched; it will be tried again on the next change."),
        "row": _("Row"),
    }


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"errors": [message], "rows": []}, status=400)


def preview_response(request: HttpRequest) -> JsonResponse:
    """The live count of the rules in the body, or a 400 whose errors name each faulty row."""
    if len(request.body) > MAX_RULES_BYTES:
        return _bad(_("The rules are too large."))
    try:
        tree = json.loads(request.body or b"null")
    except (ValueError, TypeError, RecursionError):
        return _bad(_("The rules are not valid JSON."))
    if depth_exceeds(tree, settings.API_MAX_JSON_DEPTH):
        return _bad(_("The rules are nested too deeply."))
    try:
        rules = validate(tree)
    except RuleError as exc:
        errors = rule_errors(tree, exc)
        return JsonResponse({"errors": [e.message for e in errors], "rows": [e.as_dict() for e in errors]}, status=400)
    preview = rules_preview(rules)
    return JsonResponse(
        {
            "count": preview.count,
            "milliseconds": preview.milliseconds,
            "contacts": [
                {
                    "id": c.pk,
                    "name": c.full_name,
                    "email": c.email or "",
                    "city": c.city,
                    "url": reverse("admin:contacts_contact_change", args=[c.pk]),
                }
                for c in preview.contacts
            ],
        }
    )


def suggest_response(request: HttpRequest, kind: str) -> JsonResponse:
    if kind not in KINDS:
        return JsonResponse({"errors": {"kind": [_("Unknown kind of value.")]}}, status=400)
    prefix = request.GET.get("q", "")
    if len(prefix) > MAX_PREFIX:
        return JsonResponse({"errors": {"q": [_("At most %(max)d characters.") % {"max": MAX_PREFIX}]}}, status=400)
    if any(ord(char) < 32 for char in prefix):
        problem = _("%(field)s must not contain control characters such as line breaks or tabs.") % {"field": "q"}
        return JsonResponse({"errors": {"q": [problem]}}, status=400)
    try:
        limit = min(20, max(1, int(request.GET.get("limit", 20))))
    except ValueError:
        return JsonResponse({"errors": {"limit": [_("Enter a whole number.")]}}, status=400)
    return JsonResponse({"results": value_suggestions(kind=kind, prefix=prefix, limit=limit)})

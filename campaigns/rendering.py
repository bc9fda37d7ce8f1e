"""Personalized mail from a template: a sandboxed engine, compiled templates checked against the
variable schema, and the rendering of one mail.

A template is compiled once and checked on save: a syntax error or a variable the context does not
have (say `{{ contact.nickname }}`) is refused with its line. The schema and the per-contact
contexts live in `campaigns.personalization`, the text part made from HTML in `campaigns.plaintext`.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import css_inline
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Node, VariableNode
from django.template.defaulttags import CycleNode, FirstOfNode, ForNode, IfChangedNode, IfNode, WithNode
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import html_safety
from .branding import brand_context, current_brand
from .labels import label_language
from .models import Campaign, EmailTemplate
from .personalization import ANY, LEAF, SCHEMA, ListOf, sample_context
from .plaintext import html_to_text
from .sandbox import TemplateLimitError, render_budget, width_problem


class SandboxEngine(Engine):
    default_builtins: ClassVar[list[str]] = []


ENGINE = SandboxEngine(debug=True, loaders=[], libraries={}, builtins=["campaigns.sandbox"], autoescape=True)
TEXT_ENGINE = SandboxEngine(debug=True, loaders=[], libraries={}, builtins=["campaigns.sandbox"], autoescape=False)

# ------------------------------------------------------------------ compile and check


@dataclass
class Compiled:
    subject: Any
    html: Any
    text: Any | None
    preheader: Any | None
    language: str
    direction: str
    layout: str
    uses: set = field(default_factory=set)


def compile_source(source: str, field_name: str, engine: Engine = ENGINE) -> tuple[Any, set]:
    """The compiled template and the top-level names it uses; errors name the field and the line."""
    if len((source or "").encode()) > settings.TEMPLATE_MAX_OUTPUT_BYTES:
        raise ValidationError(
            {
                field_name: [
                    _("It is longer than %(n)d bytes (TEMPLATE_MAX_OUTPUT_BYTES).")
                    % {"n": settings.TEMPLATE_MAX_OUTPUT_BYTES}
                ]
            }
        )
    try:
        template = engine.from_string(source or "")
    except TemplateSyntaxError as exc:
        line = getattr(exc, "template_debug", {}).get("line")
        where = _("line %(line)d: ") % {"line": line} if line else ""
        raise ValidationError({field_name: [f"{where}{exc}"]}) from None
    problems: list[str] = []
    uses: set = set()
    _check_nodes(template.nodelist, SCHEMA, problems, uses)
    if problems:
        raise ValidationError({field_name: problems})
    return template, uses


def template_compile(template: EmailTemplate) -> Compiled:
    """Check every part of a template; all errors of all parts at once, per field."""
    errors: dict[str, list] = {}
    parts: dict[str, Any] = {}
    uses: set = set()
    for name, source, engine in (
        ("subject", template.subject, TEXT_ENGINE),
        ("html", template.html, ENGINE),
        ("text", template.text, TEXT_ENGINE),
        ("preheader", template.preheader, TEXT_ENGINE),
    ):
        if name in ("text", "preheader") and not (source or "").strip():
            parts[name] = None
            continue
        try:
            parts[name], used = compile_source(source, name, engine)
            uses |= used
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not (template.subject or "").strip():
        errors.setdefault("subject", []).append(_("This field is required."))
    if errors:
        raise ValidationError(errors)
    text = parts["text"] or _derived_text(template)
    return Compiled(
        subject=parts["subject"],
        html=parts["html"],
        text=text,
        preheader=parts["preheader"],
        language=template.language,
        direction=template.text_direction,
        layout=template.layout,
        uses=uses,
    )


def _derived_text(template: EmailTemplate) -> Any | None:
    """A text part made once from the HTML source (tags and all) rather than from every rendered
    mail; the layout's lines are added in the template's language, the brand's values as variables
    (each mail has the brand as it is when it is made). None if it does not compile, and then each
    mail's text is made from its rendered HTML."""
    body = html_to_text(template.html)
    if template.layout == EmailTemplate.Layout.DEFAULT:
        with translation.override(template.language):
            body = (
                "\n\n".join(
                    [
                        "{{ brand.name }}",
                        body.strip(),
                        "{% if view_in_browser_url %}"
                        + _("View this email in your browser")
                        + " ({{ view_in_browser_url }}){% endif %}\n"
                        + "{% if brand.footer %}{{ brand.footer }}{% else %}"
                        + _("You receive this email because you joined our club or agreed to hear from us.")
                        + "{% endif %}\n"
                        + "{% if brand.postal_address %}{{ brand.postal_address }}\n{% endif %}"
                        + _("Unsubscribe")
                        + " ({{ unsubscribe_url }})",
                    ]
                )
                + "\n"
            )
    try:
        return compile_source(body, "text", TEXT_ENGINE)[0]
    except ValidationError:
        return None


def _check_nodes(nodelist, scope: dict, problems: list, uses: set) -> None:
    for node in nodelist:
        _check_node(node, scope, problems, uses)


def _line(node: Node) -> int:
    token = getattr(node, "token", None)
    return getattr(token, "lineno", 0) or 0


def _check_node(node: Node, scope: dict, problems: list, uses: set) -> None:
    line = _line(node)
    if isinstance(node, VariableNode):
        _check_expression(node.filter_expression, scope, line, problems, uses)
    elif isinstance(node, ForNode):
        sequence = cast(FilterExpression, node.sequence)  # what `do_for` compiles it to
        item = _check_expression(sequence, scope, line, problems, uses)
        inner = {**scope, "forloop": ANY}
        for name in node.loopvars:
            inner[name] = item.item if isinstance(item, ListOf) else ANY
        _check_nodes(node.nodelist_loop, inner, problems, uses)
        _check_nodes(node.nodelist_empty, scope, problems, uses)
        return
    elif isinstance(node, WithNode):
        inner = dict(scope)
        for name, expression in node.extra_context.items():
            inner[name] = _check_expression(expression, scope, line, problems, uses)
        _check_nodes(node.nodelist, inner, problems, uses)
        return
    elif isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            for expression in _condition_expressions(condition):
                _check_expression(expression, scope, line, problems, uses)
            _check_nodes(nodelist, scope, problems, uses)
        return
    elif isinstance(node, (FirstOfNode, CycleNode)):
        for expression in getattr(node, "vars", None) or getattr(node, "cyclevars", []):
            _check_expression(expression, scope, line, problems, uses)
    elif isinstance(node, IfChangedNode):
        for expression in node._varlist:  # type: ignore[attr-defined]  # Django's private list, not in the stubs
            _check_expression(expression, scope, line, problems, uses)
    for attr in node.child_nodelists:
        _check_nodes(getattr(node, attr, None) or [], scope, problems, uses)


def _condition_expressions(condition) -> list:
    if condition is None:
        return []
    if hasattr(condition, "value") and isinstance(condition.value, FilterExpression):
        return [condition.value]
    found = []
    for side in ("first", "second"):
        part = getattr(condition, side, None)
        if part is not None:
            found += _condition_expressions(part)
    return found


def _check_expression(expression: FilterExpression, scope: dict, line: int, problems: list, uses: set) -> Any:
    schema = _check_variable(expression.var, scope, line, problems, uses)
    for func, args in expression.filters:
        for is_variable, argument in args:
            if is_variable:
                _check_variable(argument, scope, line, problems, uses)
            elif problem := width_problem(getattr(func, "_filter_name", ""), argument):
                message, params = problem
                problems.append(_("line %(line)d: %(problem)s") % {"line": line, "problem": str(message) % params})
    return schema


def _check_variable(variable, scope: dict, line: int, problems: list, uses: set) -> Any:
    lookups = getattr(variable, "lookups", None)
    if not lookups:
        return LEAF
    uses.add(lookups[0])
    schema: Any = scope.get(lookups[0], KeyError)
    for depth, part in enumerate(lookups[1:], start=1):
        if schema == ANY:
            return ANY
        if isinstance(schema, ListOf) and part.isdigit():
            schema = schema.item
        elif isinstance(schema, dict) and part in schema:
            schema = schema[part]
        else:
            schema = KeyError
        if schema is KeyError:
            problems.append(
                _("line %(line)d: unknown variable “%(name)s”.")
                % {"line": line, "name": ".".join(lookups[: depth + 1])}
            )
            return ANY
    if schema is KeyError:
        problems.append(_("line %(line)d: unknown variable “%(name)s”.") % {"line": line, "name": lookups[0]})
        return ANY
    return schema


# ------------------------------------------------------------------ rendering


@dataclass
class Rendered:
    subject: str
    html: str
    text: str


def render(compiled: Compiled, context: dict) -> Rendered:
    """Subject, full HTML (layout, CSS inlined, made inert) and text for one contact.

    Every part is plain text until the layout escapes it, so a contact's name never becomes
    markup; the rendered HTML goes through `html_safety.sanitize` before it meets the layout
    (ours, trusted, with the brand's values escaped) and the CSS inliner. The template's parts
    render in the recipient's language (`campaigns.labels`: tiers, dates and money read as the
    recipient reads them, whoever sends), the layout's own lines in the template's. The whole
    mail renders within one template budget (`campaigns.sandbox`); going past a limit raises
    TemplateLimitError naming the part and, where it can, the line."""
    contact = context.get("contact") or {}
    labels = label_language(contact.get("language"), compiled.language)
    with translation.override(labels), timezone.override(settings.TIME_ZONE), render_budget() as budget:
        subject = " ".join(_part("subject", compiled.subject, context, budget, autoescape=False).split())
        body = html_safety.sanitize(_part("html", compiled.html, context, budget))
        preheader = (
            _part("preheader", compiled.preheader, context, budget, autoescape=False) if compiled.preheader else ""
        )
        page: str
        if compiled.layout == EmailTemplate.Layout.DEFAULT:
            page = _layout(compiled, context, body=body, subject=subject, preheader=preheader)
        else:
            page = body
        page = css_inline.inline(page)
        _check_size("html", page)
        text = _part("text", compiled.text, context, budget, autoescape=False) if compiled.text else html_to_text(page)
    return Rendered(subject=subject, html=page, text=text)


def _layout(compiled: Compiled, context: dict, *, body: str, subject: str, preheader: str) -> str:
    """The default layout around a sanitized body, in the template's language, with the brand."""
    brand = context.get("brand") or brand_context(current_brand(), compiled.language)
    with translation.override(compiled.language):
        return render_to_string(
            "email/layout.html",
            {
                "body": mark_safe(body),
                "subject": subject,
                "preheader": preheader,
                "lang": compiled.language,
                "dir": compiled.direction,
                "unsubscribe_url": context.get("unsubscribe_url", ""),
                "view_in_browser_url": context.get("view_in_browser_url", ""),
                "site_url": settings.SITE_URL,
                "brand": brand,
            },
        )


def _part(name: str, template, context: dict, budget, *, autoescape: bool = True) -> str:
    """One part rendered as a plain str (not marked safe: whoever shows it escapes it)."""
    try:
        output = template.render(Context(context, autoescape=autoescape))
        if budget.error is not None:
            raise budget.error
    except TemplateLimitError as exc:
        raise _located(exc, name) from None
    _check_size(name, output)
    return str.__str__(output)


def _located(exc: TemplateLimitError, name: str) -> TemplateLimitError:
    exc.line = exc.line or getattr(exc, "template_debug", {}).get("line")
    exc.field = exc.field or name
    return exc


def _check_size(name: str, output: str) -> None:
    if len(output.encode()) > settings.TEMPLATE_MAX_OUTPUT_BYTES:
        error = TemplateLimitError(
            gettext_lazy("the output is longer than %(n)d bytes (TEMPLATE_MAX_OUTPUT_BYTES)."),
            {"n": settings.TEMPLATE_MAX_OUTPUT_BYTES},
        )
        error.field = name
        raise error


def template_validate(template: EmailTemplate) -> Compiled:
    """What saving a template checks: it compiles (`template_compile`), its HTML has nothing
    `html_safety` would strip, and it renders within the template limits for a blank contact.
    Limits that depend on a contact's data are met, or not, at send time."""
    compiled = template_compile(template)
    found = html_safety.problems(template.html)
    if found:
        raise ValidationError({"html": found})
    try:
        render(compiled, sample_context())
    except TemplateLimitError as exc:
        raise ValidationError({getattr(exc, "field", "html"): [str(exc)]}) from None
    except Exception:  # noqa: BLE001  (a blank contact is not a real one: other errors wait for real data)
        pass
    return compiled


# ------------------------------------------------------------------ what a campaign sends

FROZEN_FIELDS = ("name", "subject", "preheader", "html", "text", "language", "direction", "layout")


def template_snapshot(template: EmailTemplate) -> dict:
    """What defines a template's mail, for a campaign to keep when it starts."""
    return {name: getattr(template, name) for name in FROZEN_FIELDS}


def campaign_template(campaign: Campaign) -> EmailTemplate:
    """The template a campaign's mail is made from: its frozen copy once it started, so later edits
    of the (shared) template change neither the mails still to go nor what earlier recipients see;
    the live template while it is a draft or scheduled."""
    if campaign.frozen_at is None or not campaign.frozen_template:
        return campaign.template
    frozen = {name: value for name, value in campaign.frozen_template.items() if name in FROZEN_FIELDS}
    return EmailTemplate(pk=campaign.template_id, updated_at=campaign.frozen_at, **frozen)

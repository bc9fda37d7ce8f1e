"""Preview a template (or a campaign's mail) as one chosen contact would get it, and send a test."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import conditional_escape, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from contacts.models import Contact

from .. import services
from ..models import Campaign, EmailTemplate
from ..views import MAIL_PAGE_CSP
from .forms import PreviewContactForm, TestSendForm


def sample_contact() -> Contact | None:
    """Who the preview shows when nobody was chosen: the newest contact with an email address."""
    return (
        Contact.objects.filter(erased_at__isnull=True, email__isnull=False)
        .exclude(email="")
        .select_related("club")
        .order_by("-pk")
        .first()
    )


def _picked(request) -> tuple[PreviewContactForm, Contact | None]:
    picker = PreviewContactForm(request.GET or None)
    contact = picker.cleaned_data["contact"] if picker.is_valid() else None
    return picker, contact or (sample_contact() if not picker.errors else None)


def preview_html(request, *, template: EmailTemplate, campaign: Campaign | None = None) -> HttpResponse:
    """The preview's HTML alone, for its iframe: a sandboxed document (no script, no form, an opaque
    origin) that only this site may frame."""
    _picker, contact = _picked(request)
    if contact is None:
        return HttpResponse(_("No contact to preview with."), status=400, content_type="text/plain; charset=utf-8")
    try:
        html = services.campaign_preview(template=template, contact=contact, campaign=campaign).html
    except ValidationError as exc:
        return HttpResponse("\n".join(exc.messages), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = MAIL_PAGE_CSP
    response["X-Frame-Options"] = "SAMEORIGIN"
    response["Cache-Control"] = "no-store, private"
    return response


def preview_page(
    modeladmin, request, *, template: EmailTemplate, campaign: Campaign | None = None, can_send: bool
) -> TemplateResponse | HttpResponseRedirect:
    if request.method == "POST":
        if not can_send:
            raise PermissionDenied
        return _test_send(modeladmin, request, template=template, campaign=campaign)
    picker, contact = _picked(request)
    rendered, problems = None, []
    if contact is not None:
        try:
            rendered = services.campaign_preview(template=template, contact=contact, campaign=campaign)
        except ValidationError as exc:
            problems = exc.messages
    subject = campaign or template
    return TemplateResponse(
        request,
        "admin/campaigns/preview.html",
        {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.opts,
            "original": subject,
            "template_obj": template,
            "campaign": campaign,
            "title": _("Preview of “%(name)s”") % {"name": subject},
            "picker": picker,
            "preview_contact": contact,
            "rendered": rendered,
            "problems": problems,
            "html_url": f"{request.path}html/?{urlencode({'contact': contact.pk})}" if contact is not None else "",
            "send_form": TestSendForm(initial={"contact": contact.pk if contact else "", "emails": request.user.email})
            if can_send
            else None,
        },
    )


def _test_send(modeladmin, request, *, template: EmailTemplate, campaign: Campaign | None):
    form = TestSendForm(request.POST)
    back = request.path
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                modeladmin.message_user(request, error, messages.ERROR)
        return HttpResponseRedirect(back)
    contact = form.cleaned_data["contact"]
    try:
        sent = services.campaign_test_send(
            campaign=campaign,
            template=None if campaign else template,
            emails=form.cleaned_data["emails"],
            contact=contact,
        )
    except ValidationError as exc:
        for error in exc.messages:
            modeladmin.message_user(request, error, messages.ERROR)
    else:
        emails = format_html_join(", ", "<bdi>{}</bdi>", ((email,) for email in form.cleaned_data["emails"]))
        sentence = conditional_escape(_("Test sent to %(emails)s (%(n)d mails)."))  # then only escaped parts go in
        modeladmin.message_user(request, mark_safe(sentence % {"emails": emails, "n": sent}), messages.SUCCESS)
    if contact is not None:
        back += "?" + urlencode({"contact": contact.pk})
    return HttpResponseRedirect(back)

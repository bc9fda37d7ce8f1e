"""Looking before sending: how many the audience reaches, a rendered preview, test sends to staff."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from contacts.models import Contact
from segments.models import Segment

from .. import audience, mail
from ..models import (
    Campaign,
    EmailTemplate,
)
from ..personalization import batch_contexts
from ..rendering import (
    Compiled,
    Rendered,
    campaign_template,
    render,
    template_compile,
)
from ..sandbox import TemplateLimitError
from ..variables import variable_warnings

if TYPE_CHECKING:
    pass

TEST_SEND_LIMIT = 20


def campaign_recipient_count(*, campaign: Campaign) -> dict:
    """Who the campaign reaches: everyone in its segments, and those a send right now would mail."""
    return _counts(audience.recipients(campaign))


def audience_count(*, segments: Iterable[Segment], exclude_segments: Iterable[Segment]) -> dict:
    """`campaign_recipient_count` for segments picked on the campaign form and not saved yet."""
    return _counts(audience.segments_recipients(segments=segments, exclude_segments=exclude_segments))


def _counts(contacts: QuerySet) -> dict:
    return {"total": contacts.count(), "eligible": audience.eligible(contacts).count()}


def campaign_preview(*, template: EmailTemplate, contact: Contact, campaign: Campaign | None = None) -> Rendered:
    """The mail as `contact` would read it; links stay as written, tracking URLs are "#" anchors.

    A campaign shows what it sends: its frozen template once started (`template` is then ignored).
    A render this contact's data breaks (a template limit, a filter that fails) is a ValidationError."""
    template = campaign_template(campaign) if campaign is not None else template
    return _preview(template_compile(template), contact, campaign)[0]


def template_draft_preview(*, template: EmailTemplate, contact: Contact) -> tuple[Rendered, list[dict]]:
    """The editor's live preview: a template as typed (not saved), as `contact` would read it, with the
    variables it uses that are empty for that contact (`variable_warnings`). Errors of the source are a
    ValidationError per field, as saving would give them."""
    compiled = template_compile(template)
    rendered, context = _preview(compiled, contact, None)
    return rendered, variable_warnings(compiled, context)


def _preview(compiled: Compiled, contact: Contact, campaign: Campaign | None) -> tuple[Rendered, dict]:
    extra = {contact.pk: {**mail.PREVIEW_URLS, **mail.campaign_context(campaign)}}
    context = batch_contexts(compiled, [contact], extra)[contact.pk]
    try:
        return render(compiled, context), context
    except TemplateLimitError as exc:
        raise ValidationError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001  (the marketer sees why instead of a server error)
        raise ValidationError(_("This mail cannot be made for this contact: %(error)s") % {"error": exc}) from None


def _clean_emails(emails: list[str]) -> list[str]:
    cleaned = [str(e).strip().lower() for e in emails or [] if str(e).strip()]
    if not cleaned:
        raise ValidationError({"emails": [_("Give at least one address.")]})
    if len(cleaned) > TEST_SEND_LIMIT:
        raise ValidationError({"emails": [_("At most %(n)d addresses.") % {"n": TEST_SEND_LIMIT}]})
    bad = []
    for address in cleaned:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(_("“%(address)s” is not a valid email address.") % {"address": address})
    if bad:
        raise ValidationError({"emails": bad})
    return list(dict.fromkeys(cleaned))


def campaign_test_send(
    *,
    campaign: Campaign | None = None,
    template: EmailTemplate | None = None,
    emails: list[str],
    contact: Contact | None = None,
) -> int:
    """A "[TEST]" copy to each address, personalized for `contact` (or a blank one); no stats recorded."""
    template = template or (campaign_template(campaign) if campaign else None)
    if template is None:
        raise ValidationError({"template": [_("Choose a template.")]})
    addresses = _clean_emails(emails)
    rendered = campaign_preview(template=template, contact=contact or Contact(), campaign=campaign)
    mails = [
        mail.proof_mail(campaign=campaign, template=template, rendered=rendered, to=address) for address in addresses
    ]
    return get_connection().send_messages(mails) or 0

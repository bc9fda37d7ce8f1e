"""An automation's mails go out as campaign messages: one hidden campaign per send_email step.

The step's campaign carries the template, sender, UTM tags and the frequency-cap choice; a message is
queued for the contact with the enrollment as its occurrence (one per enrollment and step), and the
campaign outbox sends it with the same consent, suppression and cap checks as any campaign mail.
"""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from contacts.models import Contact

from ..models import Campaign, EmailTemplate, Message
from .models import Flow, FlowMail


def _campaign_fields(flow: Flow, path: str, step: dict) -> dict:
    template = EmailTemplate.objects.get(pk=step["template"])
    return {
        "name": f"{flow.name} · {path} · {template.name}"[:200],
        "template": template,
        "from_email": step.get("from_email") or "",
        "utm_campaign": slugify(flow.name)[:100] or f"flow-{flow.pk}",
        "bypass_frequency_cap": flow.bypass_frequency_cap,
    }


def step_campaign(*, flow: Flow, path: str, step: dict) -> Campaign:
    """The campaign of the step at `path`, made on first use and kept in step with the flow's definition."""
    fields = _campaign_fields(flow, path, step)
    mail = FlowMail.objects.select_related("campaign").filter(flow=flow, step=path).first()
    if mail is None:
        try:
            with transaction.atomic():
                campaign = Campaign.objects.create(kind=Campaign.Kind.FLOW, status=Campaign.Status.SENDING, **fields)
                FlowMail.objects.create(flow=flow, step=path, campaign=campaign)
                return campaign
        except IntegrityError:  # another worker made it first
            mail = FlowMail.objects.select_related("campaign").get(flow=flow, step=path)
    campaign = mail.campaign
    changed = {name: value for name, value in fields.items() if getattr(campaign, name) != value}
    if changed or campaign.status != Campaign.Status.SENDING:
        Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING, **changed)
        campaign.refresh_from_db()
    return campaign


def queue(*, flow: Flow, path: str, step: dict, contact: Contact, occurrence: int) -> Message:
    """The contact's message for this step and enrollment, queued once however often this runs."""
    campaign = step_campaign(flow=flow, path=path, step=step)
    message, _created = Message.objects.get_or_create(campaign=campaign, contact=contact, occurrence=occurrence)
    return message


def send_soon(campaign_id: int) -> None:
    """Start the step campaign's sender; several at once share the queue through the outbox's claims."""
    from ..tasks import campaign_send

    campaign_send.delay(campaign_id)

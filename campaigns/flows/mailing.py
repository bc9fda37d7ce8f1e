"""An automation's mails go out as campaign messages: one hidden campaign per send_email step.

The step's campaign carries the template, sender, UTM tags and the frequency-cap choice; a message is
queued for the contact with the enrollment as its occurrence (one per enrollment and step), and the
campaign outbox sends it with the same consent, suppression and cap checks as any campaign mail.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field, Model, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from ..audience import SNAPSHOT_VALUES
from ..models import Campaign, EmailTemplate, Message
from .models import Enrollment, Flow, FlowMail


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


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column is not None, f"{name} is not a concrete field"
    return field.column


def queue(*, flow: Flow, path: str, step: dict, enrollment_ids: list[int]) -> tuple[int, QuerySet[Message]]:
    """Queue the step's message for each enrollment (its occurrence), once however often this runs: one
    INSERT … SELECT for the whole group, with the columns a campaign snapshot writes. Returns the
    campaign's id and the group's messages."""
    campaign = step_campaign(flow=flow, path=path, step=step)
    enrollments = Enrollment.objects.filter(pk__in=enrollment_ids).order_by()
    rows = enrollments.values(recipient_id=F("contact_id"), occurrence_id=F("pk"))
    sql, params = rows.query.sql_with_params()
    values = {**SNAPSHOT_VALUES, "occurrence": "r.occurrence_id"}
    key = ", ".join(_column(Message, name) for name in ("campaign", "contact", "occurrence"))
    insert = (
        f"INSERT INTO {Message._meta.db_table} ({', '.join(_column(Message, name) for name in values)}) "
        f"SELECT {', '.join(values.values())} FROM ({sql}) AS r WHERE 1 = 1 ON CONFLICT ({key}) DO NOTHING"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(insert, (campaign.pk, Message.Status.QUEUED, now, *params))
    mine = Message.objects.filter(  # read through the (campaign, contact, occurrence) index
        campaign=campaign, contact_id__in=enrollments.values("contact_id"), occurrence__in=enrollment_ids
    )
    return campaign.pk, mine


def send_soon(campaign_id: int) -> None:
    """Start the step campaign's sender; several at once share the queue through the outbox's claims."""
    from ..tasks import campaign_send

    campaign_send.delay(campaign_id)

"""What campaigns do when contacts are erased or merged, and what they add to a contact's timeline and
page (registered in CampaignsConfig.ready)."""

from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Coalesce, Least
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.hooks import ContactSection, TimelineSource
from contacts.selectors import TimelineEntry, choice_label

from .models import Message, TrackingEvent

MOVED_COUNTS = ("open_count", "machine_open_count", "click_count")
EARLIEST = ("first_opened_at", "first_clicked_at", "bounced_at", "complained_at", "unsubscribed_at")


def messages_erase(contact_ids: list[int]) -> None:
    """Keep the counts (reports add up), drop what could identify: provider errors may quote the
    address, headers ids and user agents single a person out, provider details quote replies."""
    Message.objects.filter(contact_id__in=contact_ids).update(error="", message_id="", esp_message_id=None)
    TrackingEvent.objects.filter(contact_id__in=contact_ids).update(user_agent="", detail={})


def messages_merge(survivor_id: int, duplicate_id: int) -> None:
    """Messages move to the survivor. Both got the same campaign (for an automation's mail: in the same
    enrollment): the survivor's message stays and takes the duplicate's tracking events, counts and earliest
    dates; the duplicate's goes."""
    same = Message.objects.filter(
        contact_id=duplicate_id, campaign_id=OuterRef("campaign_id"), occurrence=OuterRef("occurrence")
    )
    clashes = Message.objects.filter(contact_id=survivor_id).filter(Exists(same))
    for kept in clashes:
        dropped = Message.objects.get(contact_id=duplicate_id, campaign_id=kept.campaign_id, occurrence=kept.occurrence)
        TrackingEvent.objects.filter(message=dropped).update(message=kept, contact_id=survivor_id)
        Message.objects.filter(pk=kept.pk).update(
            **{field: F(field) + getattr(dropped, field) for field in MOVED_COUNTS},
            **{field: _earliest(field, getattr(dropped, field)) for field in EARLIEST},
        )
        dropped.delete()
    Message.objects.filter(contact_id=duplicate_id).update(contact_id=survivor_id)
    TrackingEvent.objects.filter(contact_id=duplicate_id).update(contact_id=survivor_id)


def _earliest(field: str, other):
    return F(field) if other is None else Coalesce(Least(F(field), other), other)


def _describe_email(entry: TimelineEntry) -> str:
    return _("Email · %(event)s") % {"event": choice_label(TrackingEvent.Kind, entry.title)}


EMAIL_TIMELINE = TimelineSource(
    kind="email", model=TrackingEvent, at="occurred_at", title="kind", detail="campaign__name", describe=_describe_email
)


CONTACT_MAILS_LIMIT = 20


def _mail_rows(contact_id: int) -> list[tuple]:
    """The newest mails the contact was sent (one query, on the contact's sent-mail index), with what they
    did with each: opens and clicks by people only, as the reports count them."""
    mails = (
        Message.objects.filter(contact_id=contact_id, status=Message.Status.SENT)
        .select_related("campaign")
        .order_by("-sent_at", "-pk")[:CONTACT_MAILS_LIMIT]
    )
    return [
        (
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:campaigns_campaign_change", args=[mail.campaign_id]),
                mail.campaign.name,
            ),
            mail.sent_at,
            _did(mail.first_opened_at, mail.human_open_count),
            _did(mail.first_clicked_at, mail.click_count),
        )
        for mail in mails
    ]


def _did(first, count: int) -> str | None:
    """Yes, with how many times when more than once; None (shown as a dash) when the contact did not."""
    if first is None:
        return None
    return _("yes (%(count)d)") % {"count": count} if count > 1 else _("yes")


def _may_view_mails(request: HttpRequest) -> bool:
    return request.user.has_perm("campaigns.view_campaign")


CONTACT_MAILS = ContactSection(
    key="mails",
    title=gettext_lazy("Mails received"),
    headers=(gettext_lazy("Campaign"), gettext_lazy("Sent"), gettext_lazy("Opened"), gettext_lazy("Clicked")),
    rows=_mail_rows,
    allowed=_may_view_mails,
    position=20,
)

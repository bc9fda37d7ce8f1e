"""Email-engagement rule keys of CONTRACT.md §3, added to the segments registry.

Each compiles to an EXISTS over TrackingEvent (or Message) correlated on the contact, so a tree
that mixes them with any other keys is still ONE query. Only human events count: an open or
click flagged as a machine's (privacy proxy, scanner, too fast) never satisfies a condition.
"""

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from segments.registry import Condition, Context, Op, register

from .models import Message, TrackingEvent

ENGAGEMENT = _("Email engagement")
ENGAGEMENT_OPS = {
    "within_last_days": Op("int", _("any campaign within the last N days")),
    "campaign": Op("campaign", _("this campaign")),
}


def human_events(kind: str):
    return TrackingEvent.objects.filter(contact_id=OuterRef("pk"), kind=kind, is_machine=False)


def _engaged(kind: str):
    def compile_engaged(cond: dict, ctx: Context) -> Q:
        events = human_events(kind)
        if cond["op"] == "within_last_days":
            return Q(Exists(events.filter(occurred_at__gte=ctx.days_ago(cond["value"]))))
        return Q(Exists(events.filter(campaign_id=cond["value"])))

    return compile_engaged


def compile_not_opened(cond: dict, ctx: Context) -> Q:
    sent = Message.objects.filter(contact_id=OuterRef("pk"), campaign_id=cond["value"], status=Message.Status.SENT)
    opened = human_events(TrackingEvent.Kind.OPEN).filter(campaign_id=cond["value"])
    return Q(Exists(sent)) & ~Q(Exists(opened))


register(
    Condition(
        key="email_opened",
        label=_("Opened an email"),
        group=ENGAGEMENT,
        ops=ENGAGEMENT_OPS,
        compile=_engaged(TrackingEvent.Kind.OPEN),
        help=_("Opens by privacy proxies and security scanners do not count."),
    )
)
register(
    Condition(
        key="email_clicked",
        label=_("Clicked in an email"),
        group=ENGAGEMENT,
        ops=ENGAGEMENT_OPS,
        compile=_engaged(TrackingEvent.Kind.CLICK),
        help=_("Clicks by security scanners do not count."),
    )
)
register(
    Condition(
        key="email_not_opened",
        label=_("Did not open a campaign"),
        group=ENGAGEMENT,
        ops={"campaign": Op("campaign", _("this campaign"))},
        compile=compile_not_opened,
        help=_("Was sent the campaign and has not opened it (machine opens do not count)."),
    )
)

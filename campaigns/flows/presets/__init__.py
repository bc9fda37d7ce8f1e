"""Ready-made flows: drafts a marketer checks and activates, with their mails in Hebrew and English.

Each preset builds an ordinary flow through `flow_create` (the one validator), its templates through
`template_create`, and the dynamic segment its trigger needs through `segment_create` (an identical segment
that already exists is reused). Each mail step is a branch on the contact's language: English-speaking
contacts get the English template, everyone else the Hebrew one. Nothing is special about a preset's flow
once made: the marketer edits it like any other.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import EmailTemplate
from campaigns.services import template_create
from segments.models import Segment
from segments.services import segment_create

from ..mailing import step_campaign
from ..models import Flow
from ..services import flow_create, flow_update
from .mails import MAILS

ENGLISH = {"field": "language", "op": "eq", "value": "en"}


class Kit:
    """What a preset's builder may make: templates, language branches and segments."""

    def __init__(self) -> None:
        self.templates: dict[str, tuple[EmailTemplate, EmailTemplate]] = {}

    def templates_of(self, key: str) -> tuple[EmailTemplate, EmailTemplate]:
        if key not in self.templates:
            hebrew, english = MAILS[key]
            self.templates[key] = (
                template_create(
                    name=hebrew.name,
                    subject=hebrew.subject,
                    preheader=hebrew.preheader,
                    html=hebrew.html,
                    language="he",
                ),
                template_create(
                    name=english.name,
                    subject=english.subject,
                    preheader=english.preheader,
                    html=english.html,
                    language="en",
                ),
            )
        return self.templates[key]

    def send(self, key: str) -> dict[str, Any]:
        """A mail step in both languages: English for English speakers, Hebrew for everyone else."""
        hebrew, english = self.templates_of(key)
        return {
            "type": "branch",
            "rules": ENGLISH,
            "yes": [{"type": "send_email", "template": english.pk}],
            "no": [{"type": "send_email", "template": hebrew.pk}],
        }

    @staticmethod
    def segment(name: str, rules: dict[str, Any]) -> int:
        existing = Segment.objects.filter(kind=Segment.Kind.DYNAMIC, rules=rules).order_by("pk").first()
        if existing is not None:
            return existing.pk
        return segment_create(name=name, rules=rules).pk


@dataclass(frozen=True)
class Preset:
    key: str
    title: Promise
    description: Promise
    build: Callable[[Kit], dict[str, Any]]
    # Called once the flow exists, for steps that refer to the flow's own mails (a "did not open" branch).
    finish: Callable[[Flow, Kit], dict[str, Any]] | None = None


def _date(field: str, *, offset: int = 0, time: str = "09:00") -> dict[str, Any]:
    return {"type": "date", "field": field, "offset_days": offset, "time": time}


def _welcome(kit: Kit) -> dict[str, Any]:
    segment = kit.segment(
        gettext("New sign-ups (last 2 days)"), {"field": "signed_up", "op": "within_last_days", "value": 2}
    )
    return {
        "trigger": {"type": "segment_entered", "segment": segment},
        "steps": [
            {
                "type": "branch",
                "rules": {"field": "source", "op": "eq", "value": "in_store"},
                "yes": [kit.send("welcome_store")],
                "no": [kit.send("welcome_online")],
            },
            {"type": "wait", "days": 3},
            kit.send("welcome_club"),
        ],
    }


def _yearly_gift(kit: Kit, field: str, points: int, reason: str, mail: str) -> dict[str, Any]:
    """On a yearly date at 09:00: club points (skipped for non-members), then a mail that can show them."""
    return {
        "trigger": _date(field),
        "reentry": Flow.Reentry.ALWAYS,
        "steps": [{"type": "award_points", "points": points, "reason": reason}, kit.send(mail)],
    }


def _birthday(kit: Kit) -> dict[str, Any]:
    return _yearly_gift(kit, "birthday", 50, gettext("Birthday gift"), "birthday")


def _wedding(kit: Kit) -> dict[str, Any]:
    return {
        "trigger": _date("wedding_anniversary", offset=-7, time="10:00"),
        "reentry": Flow.Reentry.ALWAYS,
        "steps": [kit.send("wedding_anniversary")],
    }


def _club_year(kit: Kit) -> dict[str, Any]:
    return _yearly_gift(kit, "club_joined", 100, gettext("A year in the club"), "club_anniversary")


def _abandoned_cart(kit: Kit) -> dict[str, Any]:
    return {
        "trigger": {"type": "event", "event": "add_to_cart"},
        "reentry": Flow.Reentry.AFTER_DAYS,
        "reentry_days": 7,
        # Leaves as soon as no cart is abandoned any more: a purchase at or after the add_to_cart.
        "exit_rules": {"not": {"field": "cart_abandoned", "op": "within_last_days", "value": 3}},
        "steps": [
            {"type": "wait", "hours": 2},
            kit.send("cart_reminder"),
            {"type": "wait", "days": 1},
            kit.send("cart_last_call"),
        ],
    }


def _first_purchase(kit: Kit) -> dict[str, Any]:
    return {
        "trigger": {"type": "purchase"},
        "steps": [
            {
                "type": "branch",
                "rules": {"field": "first_purchase", "op": "within_last_days", "value": 1},
                "yes": [{"type": "wait", "days": 3}, kit.send("complementary")],
                "no": [{"type": "exit"}],
            }
        ],
    }


def _replenishment(kit: Kit) -> dict[str, Any]:
    return {
        "trigger": {"type": "replenishment_due", "days_before": 5},
        "reentry": Flow.Reentry.ALWAYS,
        "steps": [kit.send("replenishment")],
    }


def _win_back(kit: Kit) -> dict[str, Any]:
    return {
        "trigger": {"type": "lifecycle_changed", "to": "at_risk"},
        "reentry": Flow.Reentry.ALWAYS,
        "exit_rules": {"field": "lifecycle", "op": "in", "value": ["new", "active"]},
        "steps": [kit.send("winback_miss_you"), {"type": "wait", "days": 14}, kit.send("winback_offer")],
    }


def _did_not_open(kit: Kit) -> dict[str, Any]:
    segment = kit.segment(
        gettext("Interested, no purchase yet"), {"field": "funnel_stage", "op": "eq", "value": "interested"}
    )
    return {
        "trigger": {"type": "segment_entered", "segment": segment},
        "exit_rules": {"field": "purchase_count", "op": "gte", "value": 1},
        "steps": [kit.send("interested_first"), {"type": "wait", "days": 3}, kit.send("interested_second")],
    }


def _did_not_open_finish(flow: Flow, kit: Kit) -> dict[str, Any]:
    """Turn the third step into "only if the first mail was not opened", naming the first step's two
    campaigns (made now, so their ids are known)."""
    first = flow.steps[0]
    opened = [
        {
            "field": "email_opened",
            "op": "campaign",
            "value": step_campaign(flow=flow, path=f"0.{side}.0", step=first[side][0]).pk,
        }
        for side in ("yes", "no")
    ]
    steps = [*flow.steps[:2], {"type": "branch", "rules": {"any": opened}, "yes": [], "no": [flow.steps[2]]}]
    return {"steps": steps}


def _review_referral(kit: Kit) -> dict[str, Any]:
    return {
        "trigger": {"type": "purchase"},
        "reentry": Flow.Reentry.AFTER_DAYS,
        "reentry_days": 60,
        "steps": [
            {"type": "wait", "days": 10},
            kit.send("review_request"),
            {"type": "wait", "days": 7},
            {
                "type": "branch",
                "rules": {"field": "event", "op": "count_gte", "value": 1, "event": "review", "days": 30},
                "yes": [kit.send("referral_request")],
                "no": [],
            },
        ],
    }


PRESETS: tuple[Preset, ...] = (
    Preset(
        "welcome",
        _("Welcome series by source"),
        _(
            "New sign-ups get a welcome that fits how they joined (“good to see you at the shop” or “thanks for "
            "joining”), then the club's benefits three days later."
        ),
        _welcome,
    ),
    Preset(
        "birthday",
        _("Birthday benefit"),
        _("On the birthday at 09:00: 50 gift points for club members, then a birthday mail showing the balance."),
        _birthday,
    ),
    Preset(
        "wedding_anniversary",
        _("Wedding anniversary"),
        _("A week before the wedding anniversary at 10:00: gift ideas picked for the contact."),
        _wedding,
    ),
    Preset(
        "club_anniversary",
        _("A year since joining the club"),
        _("Every year on the day a member joined the club: 100 gift points and a thank-you mail."),
        _club_year,
    ),
    Preset(
        "abandoned_cart",
        _("Abandoned cart"),
        _(
            "Two hours after an add_to_cart event, a reminder; a day later, a last call with suggestions. A purchase "
            "ends the flow at once. At most once a week per contact."
        ),
        _abandoned_cart,
    ),
    Preset(
        "first_purchase",
        _("First purchase → complementary products"),
        _("Three days after a contact's first purchase, products that go well with it."),
        _first_purchase,
    ),
    Preset(
        "replenishment",
        _("Replenishment reminder"),
        _(
            "Five days before a product bought runs out (its last purchase + its replenishment days), a reminder to "
            "order again."
        ),
        _replenishment,
    ),
    Preset(
        "win_back",
        _("Win-back when a customer becomes at risk"),
        _(
            "When the lifecycle becomes at risk: a “we miss you” mail, and an offer two weeks later. A new purchase "
            "ends the flow."
        ),
        _win_back,
    ),
    Preset(
        "did_not_open",
        _("“Did not open” follow-up"),
        _(
            "Contacts who became interested (viewed products) get a first mail; those who did not open it get a "
            "second one with another subject three days later. A purchase ends the flow."
        ),
        _did_not_open,
        _did_not_open_finish,
    ),
    Preset(
        "review_referral",
        _("Review, then referral request"),
        _(
            "Ten days after a purchase, a review request; a week later, contacts who wrote a review (promoters) are "
            "asked to invite a friend. At most once in 60 days per contact."
        ),
        _review_referral,
    ),
)
PRESETS_BY_KEY = {preset.key: preset for preset in PRESETS}


@transaction.atomic
def preset_create(*, key: str) -> Flow:
    """A draft flow from the preset `key`, with its templates and segment; raises KeyError for an unknown key."""
    preset = PRESETS_BY_KEY[key]
    kit = Kit()
    fields = {"name": str(preset.title), "description": str(preset.description), "reentry": Flow.Reentry.NEVER}
    fields.update(preset.build(kit))
    flow = flow_create(preset=key, **fields)
    if preset.finish is not None:
        flow = flow_update(flow=flow, **preset.finish(flow, kit))
    return flow

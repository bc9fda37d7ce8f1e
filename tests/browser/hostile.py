"""A data set whose every free-text field carries script-injection payloads, in English and Hebrew.

Each payload, if it ever ran, would set `window.__xss`; the crawl asserts it never does. Data goes in
through the services (the doors real data uses) wherever they accept it.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns import tracking
from campaigns.models import Campaign, EmailTemplate, Link, Message
from campaigns.tokens import message_token
from contacts import ingest
from contacts import services as contact_services
from contacts.models import Contact, CustomField, LoyaltyMember
from contacts.serializers import ContactSerializer, ContactUpsertSerializer, read_input
from crm.services import api_key_create
from segments import services as segment_services

SCRIPT = "<script>window.__xss=1</script>"
ATTRIBUTE = '"><img src=x onerror="window.__xss=1">'
JS_URL = "javascript:window.__xss=1"
TEMPLATE = "{{7*7}}"
TEXTAREA = "</textarea><svg onload=window.__xss=1>"
PAYLOADS = (SCRIPT, ATTRIBUTE, JS_URL, TEMPLATE, TEXTAREA)
HEBREW = tuple(f"דנה{p}" for p in PAYLOADS)
ALL = PAYLOADS + HEBREW
# Valid addresses (Django's validator accepts a quoted local part) that still carry markup.
EMAILS = (
    '"<svg/onload=window.__xss=1>"@example.com',
    "{{7*7}}@example.com",
    '"\'><img/src=x/onerror=window.__xss=1>"@example.co.il',
)
HOSTILE_URL = f"https://example.com/?q={SCRIPT}&b=" + ATTRIBUTE.replace(" ", "%20")


def payload(index: int) -> str:
    return ALL[index % len(ALL)]


@dataclass
class World:
    contacts: list = field(default_factory=list)
    segments: list = field(default_factory=list)
    templates: list = field(default_factory=list)
    campaigns: list = field(default_factory=list)
    tokens: list = field(default_factory=list)
    user: object = None


def build(user) -> World:
    world = World(user=user)
    CustomField.objects.create(key="note", label=SCRIPT, help_text=ATTRIBUTE)
    CustomField.objects.create(
        key="colour", label=HEBREW[4], type=CustomField.Type.CHOICE, choices=list(PAYLOADS), help_text=TEXTAREA
    )
    store = contact_services.store_save(code="S<b>1</b>", name=ATTRIBUTE, city=HEBREW[0])
    products = [
        contact_services.product_save(sku=f"SKU{ATTRIBUTE}"[:64], name=SCRIPT, category=TEXTAREA),
        contact_services.product_save(sku=HEBREW[3], name=HEBREW[1], category=HEBREW[0]),
    ]
    for index in range(len(ALL)):
        world.contacts.append(_contact(index, store, products))
    for index, email in enumerate(EMAILS):
        contact, _created = contact_services.contact_upsert(
            **read_input(
                ContactUpsertSerializer, {"email": email, "first_name": payload(index + 3), "email_opt_in": True}
            )
        )
        world.contacts.append(contact)
    _segments(world)
    _templates_and_campaigns(world)
    campaign_services.brand_update(
        name=SCRIPT[:100],
        sender_name=HEBREW[1][:100],
        postal_address=TEXTAREA,
        footer_he=HEBREW[0],
        footer_en=ATTRIBUTE,
    )
    api_key_create(name=SCRIPT, scopes=["contacts:read"])
    api_key_create(name=HEBREW[1], scopes=["contacts:read"])
    Group.objects.create(name=ATTRIBUTE)
    user.first_name, user.last_name = SCRIPT, HEBREW[4]
    user.save()
    _log_entries(world)
    return world


def _contact(index: int, store, products) -> Contact:
    text = payload(index)
    contact = contact_services.contact_create(
        **read_input(
            ContactSerializer,
            {
                "email": f"hostile{index}@example.com",
                "first_name": text,
                "last_name": payload(index + 1),
                "city": payload(index + 2),
                "region": payload(index + 4),
                "source_detail": text,
                "external_id": f"x{index}{text}",
                "tags": [text, payload(index + 5)],
                "email_opt_in": True,
                "attributes": {"note": text, "colour": PAYLOADS[index % len(PAYLOADS)], payload(index + 1)[:60]: text},
                "language": "he" if index >= len(PAYLOADS) else "en",
            },
        )
    )
    contact_services.consent_change(contact=contact, channel="sms", granted=True, source=text[:100], text_shown=text)
    member = contact_services.member_create(contact=contact, card_number=f"{index}{text}"[:50])
    contact_services.points_adjust(member=member, delta=10, reason=text)
    ingest.purchase_ingest(
        data={
            "contact": contact.pk,
            "external_id": f"o{index}{text}"[:100],
            "source": "pos",
            "store": store.code,
            "channel": "in_store",
            "total": "99.90",
            "items": [{"sku": products[index % 2].sku, "quantity": 1, "unit_price": "99.90"}],
        }
    )
    ingest.activity_ingest(
        data={
            "contact": contact.pk,
            "type": "product_view",
            "product": products[index % 2].sku,
            "url": HOSTILE_URL,
            "properties": {text: text, "ref": payload(index + 2)},
            "event_id": f"e{index}{text}"[:100],
        }
    )
    ingest.activity_ingest(data={"anonymous_id": f"a{index}{text}"[:100], "type": "page_view", "url": HOSTILE_URL})
    return contact


def _segments(world: World) -> None:
    rules = {
        "any": [
            {"field": "tag", "op": "has", "value": SCRIPT},
            {"field": "city", "op": "in", "value": list(PAYLOADS)},
            {"field": "attribute", "key": "note", "op": "eq", "value": ATTRIBUTE},
            {"field": "purchased_category", "op": "in", "value": [TEXTAREA]},
            {"field": "email_consent", "op": "is", "value": True},
        ]
    }
    for index, name in enumerate((SCRIPT, HEBREW[1])):
        segment = segment_services.segment_create(name=name, description=payload(index + 4), rules=rules)
        segment_services.segment_refresh(segment=segment)
        world.segments.append(segment)
    static = segment_services.segment_create(name=TEXTAREA, kind="static", description=HEBREW[2])
    segment_services.static_add(segment=static, contact_ids=[c.pk for c in world.contacts[:3]])
    world.segments.append(static)
    # A dynamic segment built on another: its delete and "used by" paths name the hostile one.
    world.segments.append(
        segment_services.segment_create(
            name=HEBREW[4],
            description=TEMPLATE,
            rules={"field": "in_segment", "segment": world.segments[0].pk, "op": "is", "value": True},
        )
    )


SAFE_HTML = (
    "<p>{{ contact.first_name }} {{ contact.attributes.note }} {{ contact.city }}</p>"
    "<p>&lt;script&gt;window.__xss=1&lt;/script&gt;</p>"
    '<a href="https://example.com/?q=&quot;&gt;&lt;img src=x onerror=window.__xss=1&gt;">shop</a>'
)
# What a row saved before templates were checked may still hold; saving refuses it today.
LEGACY_HTML = (
    SAFE_HTML
    + SCRIPT
    + '<img src=x onerror="window.__xss=1"><a href="'
    + JS_URL
    + '">legacy-link</a>'
    + ("<svg onload=window.__xss=1></svg>")
)


def _templates_and_campaigns(world: World) -> None:
    for index, (name, language) in enumerate(((SCRIPT, "en"), (HEBREW[1], "he"))):
        world.templates.append(
            campaign_services.template_create(
                name=name,
                subject=payload(index + 4) + " {{ contact.first_name }}",
                preheader=payload(index + 1) + " {{ contact.last_name }}",
                html=SAFE_HTML,
                text=payload(index) + " {{ contact.first_name }}",
                language=language,
            )
        )
    sent = campaign_services.campaign_create(
        name=SCRIPT,
        template=world.templates[0],
        from_name=ATTRIBUTE[:100],
        utm_campaign=TEXTAREA,
        segments=[world.segments[0]],
        exclude_segments=[world.segments[2]],
        created_by=world.user,
    )
    campaign_services.campaign_start(campaign=sent)
    draft = campaign_services.campaign_create(
        name=HEBREW[1], template=world.templates[1], segments=[world.segments[1]], created_by=world.user
    )
    world.campaigns = [Campaign.objects.get(pk=sent.pk), draft]
    _track(world, sent)
    _plant_legacy_html(world)


def _track(world: World, campaign: Campaign) -> None:
    visitor = tracking.Visitor(user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", ip="198.51.100.7")
    later = timezone.now() + dt.timedelta(minutes=5)
    link = Link.objects.filter(campaign=campaign).first()
    for message in Message.objects.filter(campaign=campaign, status=Message.Status.SENT)[:4]:
        token = message_token(message.pk)
        world.tokens.append(token)
        tracking.record_open(token=token, visitor=visitor, now=later)
        if link is not None:
            tracking.record_click(token=token, link_id=link.pk, visitor=visitor, now=later)


def _plant_legacy_html(world: World) -> None:
    """Markup the template checks refuse today, written straight to the rows (and to the copy a
    started campaign keeps, where there is one), as older data may hold it."""
    EmailTemplate.objects.filter(pk__in=[t.pk for t in world.templates]).update(html=LEGACY_HTML)
    for campaign in world.campaigns:
        frozen = getattr(campaign, "frozen_template", None)
        if isinstance(frozen, dict) and "html" in frozen:
            Campaign.objects.filter(pk=campaign.pk).update(frozen_template={**frozen, "html": LEGACY_HTML})


def _log_entries(world: World) -> None:
    """ "Recent actions" and object histories show what staff once typed."""
    for obj in (
        world.contacts[0],
        world.segments[0],
        world.templates[0],
        world.campaigns[0],
        LoyaltyMember.objects.first(),
    ):
        LogEntry.objects.create(
            user=world.user,
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            object_repr=SCRIPT,
            action_flag=CHANGE,
            change_message=ATTRIBUTE,
        )


def hostile_csv() -> bytes:
    """A contacts import with markup in every column and one invalid line per payload."""
    lines = ["email,first_name,last_name,city,tags,attributes.note,card_number"]
    for index, text in enumerate(ALL):
        cells = [
            f"imp{index}@example.com",
            text,
            payload(index + 1),
            payload(index + 2),
            text,
            text,
            f"c{index}{text}"[:50],
        ]
        lines.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
        bad = [text, text, text, text, text, text, ""]
        lines.append(",".join('"' + c.replace('"', '""') + '"' for c in bad))
    return ("\n".join(lines) + "\n").encode()


def hostile_purchases_csv() -> bytes:
    lines = ["external_id,email,total,items,store"]
    for index, text in enumerate(ALL):
        cells = [f"p{index}{text}", "hostile0@example.com", "10", f"{text}:1:10", text]
        lines.append(",".join('"' + c.replace('"', '""') + '"' for c in cells))
    return ("\n".join(lines) + "\n").encode()

"""Erase really erases: after it, no table and no outbox file holds the person's data, and nothing
new can be written to the erased contact."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns import links, tracking
from campaigns.models import Message, TrackingEvent
from campaigns.services import campaign_create, campaign_start, template_create
from campaigns.tokens import message_token
from contacts import hooks, ingest, services
from contacts.models import Contact, LoyaltyMember, PointsEntry, Tag
from contacts.serializers import ContactUpsertSerializer, read_input
from segments.services import segment_create, static_add
from tests.factories import ContactFactory, ProductFactory

pytestmark = pytest.mark.django_db

EMAIL = "zelda.quagmire@example.org"
PERSONAL = [
    "zelda",
    "quagmire",
    "+972527778899",
    "crm-zq-4471",
    "1983-02-11",
    "qiryat-zelda",
    "ZeldaPhone",
    "zq-anon-9",
    "771234567890",
    "xyzzy-secret-nickname",
]
USER_AGENT = "Mozilla/5.0 (iPhone) ZeldaPhone/1.0"


def table_dump() -> dict[str, str]:
    """Every row of every table, as text (lowercased), by table name."""
    dump = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            dump[table] = "\n".join(" | ".join(str(v) for v in row) for row in cursor.fetchall()).lower()
    return dump


def outbox_dump(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.glob("*.eml")).lower()


def found_anywhere(values: list[str], folder: Path) -> dict[str, list[str]]:
    dump = table_dump()
    dump["outbox"] = outbox_dump(folder)
    return {
        value: [table for table, text in dump.items() if value.lower() in text]
        for value in values
        if any(value.lower() in text for text in dump.values())
    }


@pytest.fixture
def outbox(settings, tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir()
    settings.EMAIL_BACKEND = "crm.mail.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    return folder


def send_campaign(contacts, capture):
    template = template_create(
        name="Hello",
        subject="Hi {{ contact.first_name }}",
        language="en",
        html="<p>Dear {{ contact.first_name }} {{ contact.last_name }}</p>"
        '<a href="https://shop.example.com/new">New</a>',
    )
    segment = segment_create(name="Recipients", kind="static")
    static_add(segment=segment, contact_ids=[c.pk for c in contacts])
    campaign = campaign_create(
        name="Spring",
        template=template,
        from_email="club@shop.example",
        segments=[segment],
        exclude_segments=[],
    )
    with capture(execute=True):
        campaign_start(campaign=campaign)
    return campaign


@pytest.fixture
def everywhere(outbox, admin_client, django_capture_on_commit_callbacks):
    """A contact with distinctive values in every place personal data can end up."""
    contact, _ = services.contact_upsert(
        **read_input(
            ContactUpsertSerializer,
            {
                "email": EMAIL,
                "phone": "052-777-8899",
                "external_id": "crm-zq-4471",
                "first_name": "Zelda",
                "last_name": "Quagmire",
                "birth_date": "1983-02-11",
                "city": "Qiryat-Zelda",
                "email_opt_in": True,
                "attributes": {"nickname": "xyzzy-secret-nickname"},
                "tags": ["friend-of-zelda"],
            },
        )
    )
    services.consent_change(
        contact=contact, channel="sms", granted=True, source="pos", text_shown="Zelda Quagmire agrees to SMS"
    )
    member = services.member_create(contact=contact, card_number="771234567890")
    services.points_adjust(
        member=member, delta=50, reason="Birthday gift for Zelda Quagmire", reference=f"gift-{EMAIL}"
    )
    product = ProductFactory()
    ingest.purchase_ingest(
        data={
            "contact": contact.pk,
            "source": "shop",
            "external_id": f"order-{EMAIL}",
            "total": "99",
            "items": [{"sku": product.sku, "quantity": 1, "unit_price": "99"}],
        }
    )
    ingest.activity_ingest(
        data={
            "anonymous_id": "zq-anon-9",
            "type": "page_view",
            "event_id": f"evt-{EMAIL}",
            "url": f"https://shop.example.com/?u={EMAIL}",
            "properties": {"search": "Zelda Quagmire"},
        }
    )
    services.identify(anonymous_id="zq-anon-9", contact=contact)
    ingest.activity_ingest(
        data={
            "contact": contact.pk,
            "type": "product_view",
            "product": product.sku,
            "properties": {"note": "Qiryat-Zelda"},
        }
    )
    campaign = send_campaign([contact], django_capture_on_commit_callbacks)
    message = Message.objects.get(campaign=campaign, contact=contact)
    Message.objects.filter(pk=message.pk).update(error=f"452 mailbox of {EMAIL} full (retried)")
    token = message_token(message.pk)
    tracking.record_open(token=token, visitor=tracking.Visitor(user_agent=USER_AGENT))
    link_id = links.link_register(campaign, "https://shop.example.com/new")
    tracking.record_click(token=token, link_id=link_id, visitor=tracking.Visitor(user_agent=USER_AGENT))
    tracking.unsubscribe(message=message, detail={"reason": f"{EMAIL} asked by reply"})
    admin_edit(admin_client, contact, member)
    return contact


def admin_edit(client, contact, member):
    """Staff edit the contact and give points in the admin: that writes admin history."""
    contact.refresh_from_db()
    data = {
        "email": contact.email,
        "phone": contact.phone,
        "external_id": contact.external_id,
        "first_name": "Zelda",
        "last_name": "Quagmire-Levi",
        "gender": "female",
        "birth_date": "1983-02-11",
        "wedding_date": "",
        "marital_status": "unknown",
        "city": contact.city,
        "region": "",
        "country": "IL",
        "language": "he",
        "source": contact.source,
        "source_detail": "",
        "signed_up_at_0": "",
        "signed_up_at_1": "",
        "attributes": '{"nickname": "xyzzy-secret-nickname"}',
        "club-TOTAL_FORMS": 0,
        "club-INITIAL_FORMS": 0,
        "purchases-TOTAL_FORMS": 0,
        "purchases-INITIAL_FORMS": 0,
        "tags": list(contact.tags.values_list("pk", flat=True)),
        "email_opt_in": "on",
    }
    response = client.post(reverse("admin:contacts_contact_change", args=[contact.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    response = client.post(
        reverse("admin:contacts_loyaltymember_change", args=[member.pk]),
        {
            "card_number": member.card_number,
            "tier": "gold",
            "status": "active",
            "joined_at_0": "2024-01-01",
            "joined_at_1": "10:00",
            "home_store": "",
            "points": member.points,
            "points_delta": 5,
            "points_reason": "Thanks Zelda",
            "ledger-TOTAL_FORMS": 0,
            "ledger-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    assert LogEntry.objects.filter(object_repr__icontains="zelda").exists()


def test_the_fixture_really_spreads_the_data_everywhere(everywhere, outbox):
    found = found_anywhere(PERSONAL, outbox)
    assert set(found) == set(PERSONAL)
    assert EMAIL in outbox_dump(outbox)
    assert "django_admin_log" in found["zelda"]
    assert "contacts_pointsentry" in found["zelda"]
    assert "campaigns_trackingevent" in found["ZeldaPhone"]


def test_after_erase_no_table_and_no_outbox_file_holds_any_of_the_persons_values(everywhere, outbox):
    services.contact_erase(contact=everywhere)
    assert found_anywhere(PERSONAL + [EMAIL, "friend-of-zelda"], outbox) == {}


def test_erase_keeps_the_figures_reports_need(everywhere):
    services.contact_erase(contact=everywhere)
    contact = Contact.objects.get(pk=everywhere.pk)
    assert contact.purchase_count == 1 and contact.purchases.get().total == 99
    assert PointsEntry.objects.filter(member__contact=contact).count() == 2
    message = Message.objects.get(contact=contact)
    assert (message.open_count, message.click_count) == (1, 1)
    assert TrackingEvent.objects.filter(contact=contact).count() == 3


def test_a_tag_other_contacts_still_carry_is_kept(everywhere):
    other, _ = services.contact_upsert(email="other@example.com", tags=["friend-of-zelda"])
    services.contact_erase(contact=everywhere)
    assert Tag.objects.filter(name="friend-of-zelda").exists()
    assert list(other.tags.values_list("name", flat=True)) == ["friend-of-zelda"]


def test_bulk_erase_scrubs_every_batch(outbox, monkeypatch):
    monkeypatch.setattr("contacts.services.base.BULK_BATCH", 2)
    contacts = [ContactFactory(first_name=f"Yolanda{i}", city="Batchville") for i in range(5)]
    for contact in contacts:
        member = services.member_create(contact=contact)
        services.points_adjust(member=member, delta=1, reason=f"Welcome {contact.first_name}")
    assert services.contacts_erase(contact_ids=Contact.objects.filter(city="Batchville")) == 5
    assert found_anywhere(["yolanda"], outbox) == {}


def test_outbox_copies_of_other_people_stay(outbox, django_capture_on_commit_callbacks):
    leaving = ContactFactory(email="leaving@example.com")
    staying = ContactFactory(email="staying@example.com")
    send_campaign([leaving, staying], django_capture_on_commit_callbacks)
    assert len(list(outbox.glob("*.eml"))) == 2
    services.contact_erase(contact=leaving)
    remaining = outbox_dump(outbox)
    assert "staying@example.com" in remaining and "leaving@example.com" not in remaining


def test_outbox_files_named_before_recipient_keys_are_found_by_their_headers(outbox):
    contact = ContactFactory(email="legacy@example.com")
    (outbox / "20250101-120000-0123456789ab.eml").write_bytes(
        b"To: Legacy Person <legacy@example.com>\r\nSubject: Hi\r\n\r\nHello\r\n"
    )
    (outbox / "20250101-120001-0123456789ac.eml").write_bytes(
        b"To: someone@example.com\r\nSubject: Hi\r\n\r\nlegacy@example.com in the body only\r\n"
    )
    services.contact_erase(contact=contact)
    assert [p.name for p in outbox.glob("*.eml")] == ["20250101-120001-0123456789ac.eml"]


def test_erase_runs_the_handlers_other_apps_registered(monkeypatch):
    seen = []
    monkeypatch.setattr(hooks, "_erased", [*hooks._erased, seen.append])
    contact = ContactFactory()
    services.contact_erase(contact=contact)
    assert seen == [[contact.pk]]


# ---------------------------------------------------------------- writes to an erased contact


@pytest.fixture
def erased():
    contact = ContactFactory(email="gone@example.com", phone="+972501112233")
    services.member_create(contact=contact, card_number="123123123")
    return services.contact_erase(contact=contact)


@pytest.mark.parametrize(
    "write",
    [
        lambda c: services.contact_update(contact=c, first_name="Back"),
        lambda c: services.consent_change(contact=c, channel="email", granted=True, source="api"),
        lambda c: services.points_adjust(member=LoyaltyMember.objects.get(contact=c), delta=5, reason="x"),
        lambda c: services.member_update(member=LoyaltyMember.objects.get(contact=c), tier="gold"),
        lambda c: ingest.purchase_ingest(data={"contact": c.pk, "total": "10"}),
        lambda c: ingest.activity_ingest(data={"contact": c.pk, "type": "page_view"}),
        lambda c: services.identify(anonymous_id="web-1", contact=c),
        lambda c: services.contact_upsert(first_name="Back", card_number=f"erased-{c.pk}"),
    ],
    ids=["update", "consent", "points", "member", "purchase", "event", "identify", "upsert-by-card"],
)
def test_every_write_to_an_erased_contact_is_refused(erased, write):
    with pytest.raises(ValidationError) as excinfo:
        write(erased)
    assert "erased" in " ".join(excinfo.value.messages)
    contact = Contact.objects.get(pk=erased.pk)
    assert contact.first_name == "" and not contact.email_opt_in
    assert not contact.purchases.exists() and not contact.activities.exists()


def test_bulk_tagging_leaves_erased_contacts_out(erased):
    live = ContactFactory()
    assert services.contacts_add_tag(contact_ids=[erased.pk, live.pk], name="vip") == 1
    assert not erased.tags.exists()


def test_tracking_records_nothing_for_an_erased_contacts_message(django_capture_on_commit_callbacks):
    contact = ContactFactory()
    campaign = send_campaign([contact], django_capture_on_commit_callbacks)
    message = Message.objects.get(contact=contact)
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - dt.timedelta(hours=1))
    services.contact_erase(contact=contact)
    token = message_token(message.pk)
    link_id = links.link_register(campaign, "https://shop.example.com/new")
    assert tracking.record_open(token=token, visitor=tracking.Visitor(user_agent=USER_AGENT)) is None
    assert tracking.record_click(token=token, link_id=link_id, visitor=tracking.Visitor(user_agent=USER_AGENT)) is None
    message.refresh_from_db()
    assert (message.open_count, message.click_count) == (0, 0)
    assert not TrackingEvent.objects.filter(contact=contact).exists()

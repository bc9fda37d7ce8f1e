import pytest
from django.core.exceptions import ValidationError

from contacts import ingest, services
from contacts.models import Activity, Contact, FunnelStage
from tests.factories import ContactFactory, MemberFactory, ProductFactory

pytestmark = pytest.mark.django_db


def track(**data):
    return ingest.activity_ingest(data=data)


def stage_of(contact) -> int:
    return Contact.objects.values_list("funnel_stage", flat=True).get(pk=contact.pk)


def test_new_contact_has_funnel_stage_none():
    contact, _ = services.contact_upsert(email="a@example.com")
    assert stage_of(contact) == FunnelStage.NONE


def test_funnel_climbs_visitor_interested_cart_purchaser():
    contact = ContactFactory()
    ProductFactory(sku="LENS")
    track(contact=contact.pk, type="page_view", url="https://shop.example.com/")
    assert stage_of(contact) == FunnelStage.VISITOR
    track(contact=contact.pk, type="product_view", product="LENS")
    assert stage_of(contact) == FunnelStage.INTERESTED
    track(contact=contact.pk, type="add_to_cart", product="LENS")
    assert stage_of(contact) == FunnelStage.CART
    ingest.purchase_ingest(data={"contact": contact.pk, "total": "10"})
    assert stage_of(contact) == FunnelStage.PURCHASER


@pytest.mark.parametrize("event_type", ["download", "review"])
def test_download_and_review_count_as_interested(event_type):
    contact = ContactFactory()
    track(contact=contact.pk, type=event_type)
    assert stage_of(contact) == FunnelStage.INTERESTED


@pytest.mark.parametrize("event_type", ["checkout_started", "signup", "referral", "page_view"])
def test_other_events_count_as_visitor_only(event_type):
    contact = ContactFactory()
    track(contact=contact.pk, type=event_type)
    assert stage_of(contact) == FunnelStage.VISITOR


def test_funnel_never_moves_down():
    contact = ContactFactory()
    track(contact=contact.pk, type="add_to_cart")
    track(contact=contact.pk, type="page_view")
    track(contact=contact.pk, type="product_view")
    assert stage_of(contact) == FunnelStage.CART
    ingest.purchase_ingest(data={"contact": contact.pk, "total": "10"})
    track(contact=contact.pk, type="add_to_cart")
    assert stage_of(contact) == FunnelStage.PURCHASER


def test_event_type_is_read_ignoring_case():
    contact = ContactFactory()
    activity, _ = track(contact=contact.pk, type=" Add_To_Cart ")
    assert activity.type == Activity.Type.ADD_TO_CART


def test_event_by_email_creates_the_contact_from_the_web():
    activity, created = track(email="Visitor@Example.com", type="signup")
    contact = Contact.objects.get(email="visitor@example.com")
    assert created and activity.contact_id == contact.pk
    assert contact.source == "web_form"
    assert stage_of(contact) == FunnelStage.VISITOR


def test_event_by_card_number_goes_to_the_member():
    member = MemberFactory(card_number="900011112222")
    activity, _ = track(card_number="900011112222", type="page_view")
    assert activity.contact_id == member.contact_id


def test_same_event_id_is_stored_once():
    contact = ContactFactory()
    first, created_first = track(contact=contact.pk, type="page_view", event_id="evt-1")
    second, created_second = track(contact=contact.pk, type="add_to_cart", event_id="evt-1")
    assert (created_first, created_second) == (True, False)
    assert second.pk == first.pk
    assert Activity.objects.count() == 1
    assert stage_of(contact) == FunnelStage.VISITOR


def test_anonymous_event_is_stored_without_a_contact():
    activity, created = track(anonymous_id="anon-1", type="product_view")
    assert created
    assert activity.contact_id is None and activity.anonymous_id == "anon-1"
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"type": "page_view"}, "contact"),
        ({"anonymous_id": "a", "type": "teleport"}, "type"),
        ({"anonymous_id": "a"}, "type"),
        ({"anonymous_id": "a", "type": "page_view", "product": "NOPE"}, "product"),
        ({"anonymous_id": "a", "type": "page_view", "url": "javascript:alert(1)"}, "url"),
        ({"anonymous_id": "a", "type": "page_view", "occurred_at": "never"}, "occurred_at"),
        ({"anonymous_id": "a", "type": "page_view", "properties": ["x"]}, "properties"),
        ({"contact": 424242, "type": "page_view"}, "contact"),
    ],
)
def test_invalid_event_names_the_field(data, field):
    with pytest.raises(ValidationError) as excinfo:
        track(**data)
    assert field in excinfo.value.message_dict
    assert not Activity.objects.exists()


def test_identify_rehomes_anonymous_events_and_recolors_the_contact():
    contact = ContactFactory()
    track(anonymous_id="anon-1", type="page_view")
    track(anonymous_id="anon-1", type="add_to_cart")
    track(anonymous_id="anon-2", type="product_view")
    moved = services.identify(anonymous_id="anon-1", contact=contact)
    assert moved == 2
    assert set(Activity.objects.filter(contact=contact).values_list("type", flat=True)) == {"page_view", "add_to_cart"}
    assert Activity.objects.get(anonymous_id="anon-2").contact_id is None
    assert stage_of(contact) == FunnelStage.CART


def test_identify_keeps_a_purchaser_a_purchaser():
    contact = ContactFactory()
    ingest.purchase_ingest(data={"contact": contact.pk, "total": "10"})
    track(anonymous_id="anon-1", type="add_to_cart")
    services.identify(anonymous_id="anon-1", contact=contact)
    assert stage_of(contact) == FunnelStage.PURCHASER


def test_identify_needs_an_anonymous_id():
    with pytest.raises(ValidationError) as excinfo:
        services.identify(anonymous_id=" ", contact=ContactFactory())
    assert set(excinfo.value.message_dict) == {"anonymous_id"}


def test_identify_does_not_steal_events_of_another_contact():
    owner, other = ContactFactory(), ContactFactory()
    track(contact=owner.pk, anonymous_id="anon-1", type="add_to_cart")
    assert services.identify(anonymous_id="anon-1", contact=other) == 0
    assert stage_of(other) == FunnelStage.NONE


@pytest.mark.django_db
def test_events_that_arrive_anonymously_after_identify_land_on_the_contact():
    from contacts.models import VisitorIdentity

    contact = ContactFactory()
    services.identify(anonymous_id="web-42", contact=contact)
    later, _created = ingest.activity_ingest(data={"anonymous_id": "web-42", "type": "add_to_cart"})
    assert later.contact_id == contact.pk
    contact.refresh_from_db()
    assert contact.funnel_stage == FunnelStage.CART
    assert VisitorIdentity.objects.get(anonymous_id="web-42").contact_id == contact.pk


@pytest.mark.django_db
def test_bulk_events_of_an_identified_visitor_land_on_the_contact():

    contact = ContactFactory()
    services.identify(anonymous_id="web-77", contact=contact)
    result = ingest.activities_track_bulk(
        items=[{"anonymous_id": "web-77", "type": "product_view"}, {"anonymous_id": "web-unknown", "type": "page_view"}]
    )
    assert result["created"] == 2
    assert Activity.objects.get(anonymous_id="web-77").contact_id == contact.pk
    assert Activity.objects.get(anonymous_id="web-unknown").contact_id is None


@pytest.mark.django_db
def test_merge_moves_and_erase_forgets_visitor_identities():
    from contacts.models import VisitorIdentity

    target, source = ContactFactory(), ContactFactory()
    services.identify(anonymous_id="web-1", contact=source)
    services.contact_merge(target=target, source=source)
    assert VisitorIdentity.objects.get(anonymous_id="web-1").contact_id == target.pk
    services.contact_erase(contact=target)
    assert not VisitorIdentity.objects.filter(anonymous_id="web-1").exists()

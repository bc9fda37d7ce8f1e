"""The segment builder's server side: the live count with errors pinned to rows, the value pickers,
the ready-made starting rules, the size chart and member pages, and the why-page's relevant segments."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from contacts.models import Product, Tag
from segments import services
from segments.models import SegmentMembership
from segments.starters import STARTERS
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

PREVIEW = "admin:segments_segment_preview"


def preview(client, body):
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(reverse(PREVIEW), raw, content_type="application/json")


def suggest(client, kind, **params):
    return client.get(reverse("admin:segments_segment_suggest", args=[kind]), params)


def test_every_faulty_row_is_named_by_number_and_field_in_plain_words(admin_client):
    rules = {
        "all": [
            {"field": "city", "op": "eq", "value": "Haifa"},
            {"field": "purchase_count", "op": "gte", "value": "many"},
            {"any": [{"field": "age", "op": "between", "value": [40]}]},
            {"field": "total_spent", "op": "gte", "value": 10, "days": "x"},
        ]
    }
    response = preview(admin_client, rules)
    assert response.status_code == 400
    rows = response.json()["rows"]
    assert [(r["row"], r["path"], r["key"]) for r in rows] == [
        (2, "all[1]", "value"),
        (3, "all[2].any[0]", "value"),
        (4, "all[3]", "days"),
    ]
    assert rows[0]["message"] == "Row 2 — Number of purchases: enter a whole number"
    assert rows[1]["message"].startswith("Row 3 — Age: enter two numbers")
    assert rows[2]["message"].startswith("Row 4 — only in the last N days: ")


def test_a_problem_of_the_whole_tree_is_reported_once_without_a_row(admin_client, settings):
    settings.SEGMENT_RULES_MAX_CONDITIONS = 2
    city = {"field": "city", "op": "eq", "value": "Haifa"}
    response = preview(admin_client, {"all": [city, city, city]})
    assert response.status_code == 400
    [error] = response.json()["rows"]
    assert error["row"] == 3 and error["message"].startswith("Row 3: too many conditions: at most 2")


@pytest.mark.parametrize(
    "body, named",
    [
        ("{not json", "not valid JSON"),
        ('{"all": [' * 60 + "]}" * 60, "nested too deeply"),
        (json.dumps({"all": [{"field": "city", "op": "eq", "value": "x" * 70_000}]}), "too large"),
        (json.dumps({"all": [{"field": "<script>", "op": "eq"}]}), "Row 1 — field: unknown field"),
        (json.dumps([1, 2]), "Expected a group or a condition"),
    ],
)
def test_hostile_rules_get_a_400_that_names_the_problem(admin_client, body, named):
    response = preview(admin_client, body)
    assert response.status_code == 400
    assert named.lower() in " ".join(response.json()["errors"]).lower()


def test_the_count_needs_the_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw-Clerk-12345", is_staff=True)
    client.force_login(user)
    assert preview(client, {"all": []}).status_code == 403
    assert suggest(client, "city", q="ha").status_code == 403


def test_cities_are_suggested_by_prefix_ignoring_case_once_each(admin_client):
    for city in ("Haifa", "haifa ", "Hadera", "Tel Aviv", "Hod HaSharon", ""):
        ContactFactory(city=city)
    results = suggest(admin_client, "city", q="ha").json()["results"]
    assert [r["value"].lower() for r in results] == ["hadera", "haifa"]
    assert len(suggest(admin_client, "city", q="", limit=2).json()["results"]) == 2


def test_suggestions_are_limited_and_take_prefixes_literally(admin_client):
    for i in range(30):
        Tag.objects.create(name=f"promo {i:02d}")
    Tag.objects.create(name="100% cotton")
    assert len(suggest(admin_client, "tag", q="promo").json()["results"]) == 20
    assert suggest(admin_client, "tag", q="100%").json()["results"] == [
        {"value": "100% cotton", "label": "100% cotton"}
    ]
    assert suggest(admin_client, "tag", q="_").json()["results"] == []
    assert suggest(admin_client, "tag", q="%").json()["results"] == []


def test_products_and_categories_are_suggested_by_name_and_sku(admin_client):
    Product.objects.create(sku="LENS-30", name="Monthly lenses", category="Contact lenses")
    Product.objects.create(sku="MUG-1", name="Mug", category="Kitchen")
    assert [r["value"] for r in suggest(admin_client, "product", q="mo").json()["results"]] == ["LENS-30"]
    assert [r["value"] for r in suggest(admin_client, "product", q="MUG").json()["results"]] == ["MUG-1"]
    assert [r["value"] for r in suggest(admin_client, "category", q="con").json()["results"]] == ["Contact lenses"]


@pytest.mark.parametrize(
    "params, problem",
    [
        ({"q": "x" * 101}, "At most 100 characters."),
        ({"q": "a\x00"}, "q must not contain control characters such as line breaks or tabs."),
        ({"q": "a\tb"}, "q must not contain control characters such as line breaks or tabs."),
        ({"limit": "lots"}, "Enter a whole number."),
    ],
)
def test_bad_picker_input_is_a_400_naming_the_parameter_and_the_problem(admin_client, params, problem):
    response = suggest(admin_client, "city", **params)
    assert response.status_code == 400
    assert response.json()["errors"] == {next(iter(params)): [problem]}


def test_an_unknown_picker_is_a_400(admin_client):
    assert suggest(admin_client, "password", q="a").status_code == 400


def test_picker_values_from_contacts_are_returned_as_data_not_markup(admin_client):
    ContactFactory(city="<b>Haifa</b>")
    assert suggest(admin_client, "city", q="<b").json()["results"] == [
        {"value": "<b>Haifa</b>", "label": "<b>Haifa</b>"}
    ]


@pytest.mark.parametrize("starter", STARTERS, ids=lambda s: s.key)
def test_every_ready_made_segment_is_valid_and_counts(admin_client, starter):
    ContactFactory()
    response = preview(admin_client, starter.rules)
    assert response.status_code == 200, response.json()
    assert response.json()["count"] >= 0


def test_the_builder_page_offers_the_ready_made_segments_in_groups(admin_client):
    html = admin_client.get(reverse("admin:segments_segment_add")).content.decode()
    assert 'id="builder-starters"' in html and 'id="segment-starter"' in html
    assert "Funnel layers" in html and "Purchasers: bought online or in the store" in html


def test_the_size_chart_has_labelled_axes_and_the_day_by_day_sizes(admin_client):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        contacts = [ContactFactory(city="Haifa") for _ in range(3)]
        segment = services.segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), tick=False):
        SegmentMembership.objects.filter(contact=contacts[0]).update(left_at=timezone.now())
        html = admin_client.get(reverse("admin:segments_segment_change", args=[segment.pk])).content.decode()
    assert 'class="sb-chart"' in html and ">members</text>" in html and ">date</text>" in html
    assert ">9 Feb</text>" in html and ">10 Mar</text>" in html  # first and last day of the window
    assert "<td>3</td><td>0</td><td>3</td>" in html  # 1 March: 3 entered, 3 members
    assert "<td>0</td><td>1</td><td>2</td>" in html  # 10 March: 1 left, 2 members


def test_all_members_can_be_paged_through(admin_client):
    contacts = [ContactFactory(city="Haifa", first_name=f"Member{i:03d}") for i in range(55)]
    segment = services.segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    url = reverse("admin:segments_segment_change", args=[segment.pk])
    first = admin_client.get(url).content.decode()
    second = admin_client.get(url, {"members": 2}).content.decode()
    assert "55 members" in first and "page 1 of 2" in first and "?members=2" in first
    shown = {c.first_name for c in contacts if c.first_name in first or c.first_name in second}
    assert len(shown) == 55
    assert admin_client.get(url, {"members": "9999"}).status_code == 200
    assert admin_client.get(url, {"members": "<x>"}).status_code == 200


def why(client, contact):
    return client.get(reverse("admin:segments_segment_why", args=[contact.pk])).content.decode()


def test_the_why_page_shows_only_the_segments_that_concern_the_contact(admin_client):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        contact = ContactFactory(city="Haifa", email_opt_in=False)
        services.segment_create(name="Haifa people", rules={"field": "city", "op": "eq", "value": "Haifa"})
        services.segment_create(
            name="Haifa readers",
            rules={
                "all": [
                    {"field": "city", "op": "eq", "value": "Haifa"},
                    {"field": "email_consent", "op": "is", "value": True},
                ]
            },
        )
        services.segment_create(
            name="Eilat readers",
            rules={
                "all": [
                    {"field": "city", "op": "eq", "value": "Eilat"},
                    {"field": "email_consent", "op": "is", "value": True},
                ]
            },
        )
    html = why(admin_client, contact)
    assert "Haifa people" in html and "In this segment — the rules match" in html
    assert "Haifa readers" in html and "One condition away" in html
    assert "Eilat readers" not in html  # two conditions away: not this contact's business


@time_machine.travel(dt.datetime(2026, 12, 3, 21, 30, tzinfo=dt.UTC), tick=False)  # 23:30 in Israel, winter
def test_the_why_page_shows_the_contacts_actual_values(admin_client):
    # noon of the local day: 210 days back stays on its local date across a daylight-saving change
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    contact = ContactFactory(
        purchase_count=3, total_spent=Decimal("1240"), last_purchase_at=noon - dt.timedelta(days=210)
    )
    services.segment_create(
        name="<b>Big</b> & dormant",
        rules={
            "all": [
                {"field": "total_spent", "op": "gte", "value": 2000},
                {"field": "last_purchase", "op": "more_than_days_ago", "value": 180},
            ]
        },
    )
    html = why(admin_client, contact)
    assert "spent ₪1,240 of ₪2,000" in html
    assert "last purchase 210 days ago" in html
    assert "&lt;b&gt;Big&lt;/b&gt; &amp; dormant" in html and "<b>Big</b>" not in html
    assert f"<bdi>{escape(str(contact))}</bdi>" in html


def test_the_why_page_shows_a_segment_left_recently(admin_client):
    contact = ContactFactory(city="Haifa")
    segment = services.segment_create(name="Haifa people", rules={"field": "city", "op": "eq", "value": "Haifa"})
    contact.city = "Eilat"
    contact.save()
    services.segment_refresh(segment=segment)
    assert "Left in the last 30 days" in why(admin_client, contact)


@pytest.mark.postgres
def test_products_are_suggested_by_the_start_of_their_name_through_an_index_on_postgresql():
    from django.db import connection
    from django.db.models.functions import Lower

    if connection.vendor != "postgresql":
        pytest.skip("an operator-class index is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Product.objects.annotate(lname=Lower("name")).filter(lname__startswith="dr").explain()
    assert "product_name_prefix_idx" in plan

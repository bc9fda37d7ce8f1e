"""The campaigns back office: templates saved through the service, preview, test send, campaigns with
exclusions, recipient count, the sending buttons, progress JSON and the report page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, EmailTemplate, Link, Message
from campaigns.reports.models import Attribution
from campaigns.services import campaign_create, template_create
from contacts.models import Channel
from contacts.services import purchase_record
from segments.models import Segment
from segments.services import segment_create, static_add
from tests.campaigns.tracked import tracked
from tests.factories import ContactFactory, MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
HEBREW = '<p>שלום {{ contact.first_name|default:"חבר" }}</p>\n<p><a href="https://shop.example.com/">לחנות</a></p>'


@pytest.fixture
def template():
    return template_create(
        name="Sale", subject="{{ contact.first_name|default:'חבר' }}, מבצע!", html=HEBREW, language="he"
    )


@pytest.fixture
def haifa():
    return segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})


@pytest.fixture
def campaign(template, haifa):
    return campaign_create(name="Spring", template=template, segments=[haifa])


def url(name, *args):
    return reverse(f"admin:campaigns_{name}", args=args)


def template_form(**changes):
    return {
        "name": "Welcome",
        "language": "he",
        "direction": "",
        "layout": "default",
        "subject": "ברוכים הבאים",
        "preheader": "",
        "html": "<p>שלום</p>",
        "text": "",
        **changes,
    }


# ------------------------------------------------------------------ templates


def test_a_template_saves_through_the_service_and_gets_a_text_part_later(admin_client):
    response = admin_client.post(url("emailtemplate_add"), template_form())

    assert response.status_code == 302
    saved = EmailTemplate.objects.get(name="Welcome")
    assert saved.text_direction == "rtl"


def test_a_template_error_shows_on_its_field_with_the_line(admin_client):
    response = admin_client.post(
        url("emailtemplate_add"), template_form(html="<p>שלום</p>\n<p>{{ contact.nickname }}</p>", subject="{% if %}")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "line 2" in errors["html"][0] and "contact.nickname" in errors["html"][0]
    assert "subject" in errors
    assert not EmailTemplate.objects.filter(name="Welcome").exists()


def test_changing_a_template_keeps_its_id(admin_client, template):
    response = admin_client.post(url("emailtemplate_change", template.pk), template_form(name="Sale 2"))

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.name == "Sale 2"
    assert EmailTemplate.objects.count() == 1


def test_the_preview_renders_for_a_contact_chosen_by_email(admin_client, template):
    dana = ContactFactory(first_name="דנה", email="dana@example.com")
    ContactFactory(first_name="Other")

    response = admin_client.get(url("emailtemplate_preview", template.pk), {"contact": "DANA@example.com"})

    assert response.status_code == 200
    assert response.context["preview_contact"] == dana
    rendered = response.context["rendered"]
    assert rendered.subject == "דנה, מבצע!"
    assert 'dir="rtl"' in rendered.html
    html = response.content.decode()
    assert "<iframe" in html and "sandbox=" in html
    assert f'src="/admin/campaigns/emailtemplate/{template.pk}/preview/html/?contact={dana.pk}"' in html
    assert "שלום דנה" in rendered.text


def test_the_preview_takes_a_contact_id_too(admin_client, template):
    contact = ContactFactory(first_name="Yossi")

    response = admin_client.get(url("emailtemplate_preview", template.pk), {"contact": str(contact.pk)})

    assert response.context["rendered"].subject == "Yossi, מבצע!"


def test_an_unknown_preview_contact_is_an_error_not_a_crash(admin_client, template):
    response = admin_client.get(url("emailtemplate_preview", template.pk), {"contact": "nobody@example.com"})

    assert response.status_code == 200
    assert response.context["rendered"] is None
    assert "nobody@example.com" in response.content.decode()


def test_a_test_send_goes_to_the_given_addresses(admin_client, template, mailoutbox):
    contact = ContactFactory(first_name="Noa")

    response = admin_client.post(
        url("emailtemplate_preview", template.pk),
        {"emails": "me@example.com, boss@example.com", "contact": str(contact.pk)},
    )

    assert response.status_code == 302
    assert sorted(addr for mail in mailoutbox for addr in mail.to) == ["boss@example.com", "me@example.com"]
    assert "Noa" in mailoutbox[0].subject
    assert not Message.objects.exists()
    page = admin_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="he").content.decode()
    # each address isolated, so a Hebrew sentence around it keeps it whole
    assert "<bdi>me@example.com</bdi>, <bdi>boss@example.com</bdi>" in page


def test_a_test_send_to_a_bad_address_sends_nothing(admin_client, template, mailoutbox):
    response = admin_client.post(
        url("emailtemplate_preview", template.pk), {"emails": "me@, ok@example.com"}, follow=True
    )

    assert mailoutbox == []
    assert "me@" in response.content.decode()


# ------------------------------------------------------------------ campaigns


def campaign_form(template, include, exclude=(), **changes):
    return {
        "name": "Spring",
        "template": template.pk,
        "segments": [s.pk for s in include],
        "exclude_segments": [s.pk for s in exclude],
        "from_name": "Club",
        "from_email": "club@example.com",
        "reply_to": "",
        "utm_source": "crm",
        "utm_medium": "email",
        "utm_campaign": "",
        "cost": "250",
        "holdout_percent": "0",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        **changes,
    }


def test_a_campaign_is_created_with_an_exclusion(admin_client, template, haifa):
    vip = segment_create(name="VIP", kind=Segment.Kind.STATIC)

    response = admin_client.post(url("campaign_add"), campaign_form(template, [haifa], [vip]))

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Spring")
    assert list(campaign.segments.all()) == [haifa]
    assert list(campaign.exclude_segments.all()) == [vip]
    assert campaign.status == "draft" and str(campaign.cost) == "250.00"


def test_a_holdout_above_half_is_refused_naming_the_field(admin_client, template, haifa):
    response = admin_client.post(url("campaign_add"), campaign_form(template, [haifa], holdout_percent="60"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["holdout_percent"] == ["The holdout may be at most 50 percent of the recipients."]
    assert not Campaign.objects.exists()


def test_a_campaign_keeps_its_holdout_percent(admin_client, template, haifa):
    response = admin_client.post(url("campaign_add"), campaign_form(template, [haifa], holdout_percent="10"))

    assert response.status_code == 302
    assert Campaign.objects.get(name="Spring").holdout_percent == 10


def test_a_campaign_needs_a_segment(admin_client, template):
    response = admin_client.post(url("campaign_add"), campaign_form(template, []))

    assert response.status_code == 200
    assert "segments" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_the_change_page_counts_recipients_before_sending(admin_client, campaign, haifa):
    ContactFactory(city="Haifa")
    ContactFactory(city="Haifa", email_opt_in=False)
    excluded = ContactFactory(city="Haifa")
    vip = segment_create(name="VIP", kind=Segment.Kind.STATIC)
    static_add(segment=vip, contact_ids=[excluded.pk])
    campaign.exclude_segments.set([vip])

    response = admin_client.get(url("campaign_change", campaign.pk))

    assert response.context["recipient_count"] == {"total": 2, "eligible": 1}
    html = response.content.decode()
    assert url("campaign_verb", campaign.pk, "send") in html
    assert url("campaign_verb", campaign.pk, "pause") not in html


def test_send_asks_first_then_sends_through_the_service(
    admin_client, campaign, mailoutbox, django_capture_on_commit_callbacks
):
    ContactFactory(city="Haifa", email="reader@example.com")

    confirm = admin_client.get(url("campaign_verb", campaign.pk, "send"))
    assert confirm.status_code == 200
    assert confirm.context["counts"] == {"total": 1, "eligible": 1}
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("campaign_verb", campaign.pk, "send"))

    assert response.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).status in ("sending", "sent")
    assert [m.to for m in mailoutbox] == [["reader@example.com"]]


def test_a_future_scheduled_at_offers_schedule_beside_send_now(admin_client, campaign):
    campaign.scheduled_at = timezone.now() + dt.timedelta(days=1)
    campaign.save()

    page = admin_client.get(url("campaign_change", campaign.pk)).content.decode()
    admin_client.post(url("campaign_verb", campaign.pk, "schedule"))

    assert url("campaign_verb", campaign.pk, "schedule") in page
    assert url("campaign_verb", campaign.pk, "send") in page  # "Send now" ignores the time
    assert Campaign.objects.get(pk=campaign.pk).status == "scheduled"


def test_pause_resume_and_cancel(admin_client, campaign, django_capture_on_commit_callbacks):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    queued = Message.objects.create(campaign=campaign, contact=ContactFactory())

    admin_client.post(url("campaign_verb", campaign.pk, "pause"))
    assert Campaign.objects.get(pk=campaign.pk).status == "paused"

    page = admin_client.get(url("campaign_change", campaign.pk)).content.decode()
    assert url("campaign_verb", campaign.pk, "resume") in page

    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(url("campaign_verb", campaign.pk, "resume"))
    assert Campaign.objects.get(pk=campaign.pk).status == "sending"

    confirm = admin_client.get(url("campaign_verb", campaign.pk, "cancel"))
    assert "cannot be undone" in confirm.content.decode()
    admin_client.post(url("campaign_verb", campaign.pk, "cancel"))
    assert Campaign.objects.get(pk=campaign.pk).status == "cancelled"
    queued.refresh_from_db()
    assert (queued.status, queued.skip_reason) == ("skipped", "cancelled")


def test_a_verb_that_does_not_apply_changes_nothing(admin_client, campaign):
    response = admin_client.post(url("campaign_verb", campaign.pk, "resume"), follow=True)

    assert Campaign.objects.get(pk=campaign.pk).status == "draft"
    assert "cannot do that" in response.content.decode()


def test_a_campaign_being_sent_is_read_only(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)

    response = admin_client.get(url("campaign_change", campaign.pk))

    assert "name" not in response.context["adminform"].form.fields
    assert "segments" not in response.context["adminform"].form.fields


def test_progress_json_has_sent_total_and_rate(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    for status in ("sent", "sent", "queued", "skipped"):
        Message.objects.create(campaign=campaign, contact=ContactFactory(), status=status, sent_at=timezone.now())

    data = admin_client.get(url("campaign_progress", campaign.pk)).json()

    assert (data["total"], data["sent"], data["queued"], data["skipped"]) == (4, 2, 1, 1)
    assert data["percent"] == 75.0 and data["live"] is True and data["status"] == "sending"
    assert data["rate"] > 0


def test_the_change_page_shows_the_progress_bar_while_sending(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    Message.objects.create(campaign=campaign, contact=ContactFactory(), status="sent", sent_at=timezone.now())

    html = admin_client.get(url("campaign_change", campaign.pk)).content.decode()

    assert 'class="campaign-progress"' in html and 'data-live="1"' in html
    assert url("campaign_progress", campaign.pk) in html
    assert "campaigns/progress.js" in html


def sent_campaign(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT, started_at=timezone.now())
    link = Link.objects.create(campaign=campaign, url="https://shop.example.com/sale", url_hash="x")
    messages = []
    for n in range(3):
        msg = Message.objects.create(
            campaign=campaign, contact=ContactFactory(email=f"r{n}@example.com"), status="sent", sent_at=timezone.now()
        )
        messages.append(msg)
    for kind, machine, with_link in (("open", False, False), ("open", True, False), ("click", False, True)):
        tracked(messages[0], kind, machine=machine, link=link if with_link else None)
    Message.objects.create(
        campaign=campaign, contact=ContactFactory(email="off@example.com"), status="skipped", skip_reason="no_consent"
    )
    return messages


def test_the_report_shows_stats_chart_links_and_recipients(admin_client, campaign):
    sent_campaign(campaign)

    response = admin_client.get(url("campaign_report", campaign.pk))

    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats["recipients"], stats["sent"], stats["skipped"], stats["opens"], stats["machine_opens"]) == (
        4,
        3,
        1,
        1,
        1,
    )
    html = response.content.decode()
    assert "<svg" in html and 'class="opens"' in html
    assert "33.3%" in html  # open rate: 1 of 3 delivered
    assert "https://shop.example.com/sale" in html
    assert "r0@example.com" in html and "off@example.com" in html
    assert {m.state for m in response.context["recipients"]} == {"clicked", "delivered", "skipped"}


def test_the_recipients_table_counts_machine_opens_apart_from_human_opens(admin_client, campaign):
    from campaigns import tracking
    from campaigns.tokens import message_token

    message = sent_campaign(campaign)[1]
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - dt.timedelta(hours=1))
    token = message_token(message.pk)
    tracking.record_open(token=token, visitor=tracking.Visitor(user_agent="Mozilla/5.0 (Windows NT 10.0) Firefox/128"))
    for _ in range(2):
        tracking.record_open(token=token, visitor=tracking.Visitor(user_agent="Mozilla/5.0"))

    html = admin_client.get(url("campaign_report", campaign.pk)).content.decode()

    row = html[html.index("r1@example.com") :]
    cell = row[row.index('class="campaign-opens"') :].split("</td>")[0]
    assert ">1 (+2 machine)" in cell


def test_the_report_costs_the_same_queries_for_more_recipients(admin_client, campaign):
    messages = sent_campaign(campaign)
    pages = [url("campaign_report", campaign.pk), url("campaign_report", campaign.pk) + "?state=opened"]
    with CaptureQueriesContext(connection) as few:
        for page in pages:
            admin_client.get(page)
    for _n in range(20):
        tracked(Message.objects.create(campaign=campaign, contact=ContactFactory(), status="sent"), "open")
    tracked(messages[1], "click")
    with CaptureQueriesContext(connection) as many:
        for page in pages:
            admin_client.get(page)

    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_report_numbers_refresh_from_json(admin_client, campaign):
    sent_campaign(campaign)

    data = admin_client.get(url("campaign_numbers", campaign.pk)).json()

    assert data["numbers"]["unique_opens"] == "1"
    assert data["numbers"]["raw_opens"] == "2"
    assert data["numbers"]["open_rate"] == "33.3%"


def test_the_recipients_list_filters_by_state_and_pages_by_id(admin_client, campaign):
    sent_campaign(campaign)

    skipped = admin_client.get(url("campaign_report", campaign.pk), {"state": "skipped"}).context["recipients"]
    first = admin_client.get(url("campaign_report", campaign.pk))
    from campaigns.admin import report

    report.RECIPIENTS_PER_PAGE, saved = 2, report.RECIPIENTS_PER_PAGE
    try:
        page_one = admin_client.get(url("campaign_report", campaign.pk)).context
        page_two = admin_client.get(url("campaign_report", campaign.pk), {"before": page_one["next_before"]}).context
    finally:
        report.RECIPIENTS_PER_PAGE = saved

    assert [m.contact.email for m in skipped] == ["off@example.com"]
    assert len(first.context["recipients"]) == 4
    assert len(page_one["recipients"]) == 2 and len(page_two["recipients"]) == 2
    assert page_two["next_before"] is None


def analyst(client, django_user_model):
    user = django_user_model.objects.create_user("ana", password="pw-ana-123456", is_staff=True)
    user.groups.add(Group.objects.get(name="Analyst"))
    client.force_login(user)
    return client


def test_an_analyst_reads_the_report_but_cannot_send(client, django_user_model, campaign):
    sent_campaign(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    viewer = analyst(client, django_user_model)

    assert viewer.get(url("campaign_report", campaign.pk)).status_code == 200
    assert viewer.post(url("campaign_verb", campaign.pk, "pause")).status_code == 403
    assert (
        viewer.post(url("emailtemplate_preview", campaign.template_id), {"emails": "a@example.com"}).status_code == 403
    )
    assert Campaign.objects.get(pk=campaign.pk).status == "sending"


def test_the_preview_of_a_campaign_uses_its_template(admin_client, campaign):
    MemberFactory(contact=ContactFactory(first_name="Lior", email="lior@example.com"))

    response = admin_client.get(url("campaign_preview", campaign.pk), {"contact": "lior@example.com"})

    assert response.context["rendered"].subject == "Lior, מבצע!"


# ------------------------------------------------------------------ money, holdout and the list's numbers


# A signed number is kept left to right inside a Hebrew sentence by Unicode isolates.
LTR = "\u2066%s\u2069"


def bought(contact, total: str, channel: str = Channel.ONLINE) -> None:
    """A purchase a minute from now through the service, so it is attributed to the contact's latest click."""
    purchase_record(
        contact=contact,
        source="shop",
        external_id=None,
        channel=channel,
        purchased_at=timezone.now() + dt.timedelta(minutes=1),
        total=Decimal(total),
        currency="ILS",
        store=StoreFactory() if channel == Channel.IN_STORE else None,
        items=[],
    )


def earning_campaign(campaign, *, cost: str = "100") -> Campaign:
    """Sent to three contacts, of whom one opened and clicked, then bought online and in the store."""
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT, started_at=now, cost=Decimal(cost))
    messages = [
        Message.objects.create(campaign=campaign, contact=ContactFactory(), status="sent", sent_at=now)
        for _n in range(3)
    ]
    clicker = messages[0]
    for kind in ("open", "click"):
        tracked(clicker, kind)
    bought(clicker.contact, "150.00")
    bought(clicker.contact, "90.50", Channel.IN_STORE)
    return campaign


def test_the_report_shows_the_revenue_and_links_to_the_attributed_purchases(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(name="<script>alert(1)</script> Sale")
    earning_campaign(campaign)

    response = admin_client.get(url("campaign_report", campaign.pk))

    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Sale" in html
    money = {row.key: row.value for row in response.context["money_rows"]}
    assert (money["conversions"], money["revenue"], money["in_store_revenue"]) == ("2", "240.50", "90.50")
    assert (money["cost"], money["romi"], money["revenue_per_recipient"]) == ("100.00", LTR % "+140.5%", "80.17")
    attributed = reverse("admin:reports_attribution_changelist") + f"?campaign__id__exact={campaign.pk}"
    assert f'href="{attributed}" data-key="revenue">240.50</a>' in html.replace("&amp;", "&")
    assert f"{attributed}&channel__exact=in_store" in html.replace("&amp;", "&")
    listed = admin_client.get(attributed)
    assert listed.status_code == 200
    assert {row.total for row in listed.context["cl"].result_list} == {Decimal("150.00"), Decimal("90.50")}
    assert "&lt;script&gt;" in listed.content.decode()


def test_attributions_are_read_only_in_the_back_office(admin_client, campaign):
    earning_campaign(campaign)
    row = Attribution.objects.first()

    page = admin_client.get(reverse("admin:reports_attribution_change", args=[row.pk]))

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:reports_attribution_add")).status_code == 403


def test_the_report_numbers_json_has_the_money_too(admin_client, campaign):
    earning_campaign(campaign)

    numbers = admin_client.get(url("campaign_numbers", campaign.pk)).json()["numbers"]

    assert (numbers["revenue"], numbers["romi"], numbers["lift_ci95"]) == ("240.50", LTR % "+140.5%", "—")


def test_the_report_shows_the_holdout_comparison_in_words(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=50)
    sent_campaign(campaign)
    for _n in range(3):
        Message.objects.create(campaign=campaign, contact=ContactFactory(), status=Message.Status.HOLDOUT)

    response = admin_client.get(url("campaign_report", campaign.pk))

    holdout = {row.key: row.value for row in response.context["holdout_rows"]}
    assert (holdout["holdout_size"], holdout["treated_size"]) == ("3", "3")
    assert response.context["stats"]["verdict"] == "no_effect"
    html = response.content.decode()
    assert "No measurable effect yet" in html
    assert "?state=held_out#recipients" in html
    held = admin_client.get(url("campaign_report", campaign.pk), {"state": "held_out"}).context["recipients"]
    assert len(held) == 3


def test_a_campaign_without_a_holdout_says_so(admin_client, campaign):
    sent_campaign(campaign)

    html = admin_client.get(url("campaign_report", campaign.pk)).content.decode()

    assert "No holdout group" in html


def test_the_progress_counts_held_out_recipients_as_done(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENT, holdout_percent=50)
    Message.objects.create(campaign=campaign, contact=ContactFactory(), status="sent", sent_at=timezone.now())
    Message.objects.create(campaign=campaign, contact=ContactFactory(), status="holdout")

    data = admin_client.get(url("campaign_progress", campaign.pk)).json()
    html = admin_client.get(url("campaign_change", campaign.pk)).content.decode()

    assert (data["held_out"], data["done"], data["percent"]) == (1, 2, 100.0)
    assert '<span class="campaign-held-out">1</span>' in html


def listed(client, order: str = "") -> list[str]:
    response = client.get(url("campaign_changelist"), {"o": order} if order else {})
    assert response.status_code == 200
    return [campaign.name for campaign in response.context["cl"].result_list]


def test_the_list_shows_sent_rates_revenue_and_romi(admin_client, campaign):
    earning_campaign(campaign)

    response = admin_client.get(url("campaign_changelist"))

    row = response.context["cl"].result_list[0]
    assert (row.sent_count, row.revenue, round(row.romi, 4)) == (3, Decimal("240.50"), 1.405)
    assert round(row.open_rate, 4) == 0.3333
    html = response.content.decode()
    assert '<bdi dir="ltr">240.50</bdi>' in html and f'<bdi dir="ltr">{LTR % "+140.5%"}</bdi>' in html
    assert '<bdi dir="ltr">33.3%</bdi>' in html


def test_the_list_sorts_by_revenue_and_by_romi(admin_client, template, haifa, campaign):
    earning_campaign(campaign, cost="1000")  # 240.50 back for 1000: ROMI −76 %
    cheap = campaign_create(name="Cheap", template=template, segments=[haifa], cost=Decimal("10"))
    earning_campaign(cheap, cost="10")  # 240.50 back for 10
    campaign_create(name="Nothing", template=template, segments=[haifa])
    columns = ["action_checkbox", *admin.site._registry[Campaign].list_display]  # `o` counts the checkbox column
    revenue, romi = columns.index("revenue_column"), columns.index("romi_column")

    by_revenue = listed(admin_client, f"-{revenue}")
    by_romi = listed(admin_client, f"-{romi}")
    by_romi_up = listed(admin_client, f"{romi}")

    assert by_revenue[-1] == "Nothing"
    # "Nothing" cost nothing: its ROMI is null, and where a null sorts is the database's choice.
    assert [name for name in by_romi if name != "Nothing"] == ["Cheap", "Spring"]
    assert [name for name in by_romi_up if name != "Nothing"] == ["Spring", "Cheap"]


def test_the_list_costs_the_same_queries_for_more_campaigns(admin_client, template, haifa, campaign):
    earning_campaign(campaign)
    with CaptureQueriesContext(connection) as few:
        listed(admin_client)
    for n in range(4):
        earning_campaign(campaign_create(name=f"More {n}", template=template, segments=[haifa]))
    with CaptureQueriesContext(connection) as many:
        names = listed(admin_client)

    assert len(names) == 5
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_report_and_the_list_read_right_to_left_in_hebrew(admin_client, campaign):
    earning_campaign(campaign)

    report = admin_client.get(url("campaign_report", campaign.pk), HTTP_ACCEPT_LANGUAGE="he").content.decode()
    listing = admin_client.get(url("campaign_changelist"), HTTP_ACCEPT_LANGUAGE="he").content.decode()

    assert '<html lang="he" dir="rtl">' in report and '<html lang="he" dir="rtl">' in listing
    # Numbers run left to right, and a signed one keeps its sign before it whatever surrounds it.
    assert f'<bdi dir="ltr"><span data-key="romi">{LTR % "+140.5%"}</span></bdi>' in report
    assert f'<bdi dir="ltr">{LTR % "+140.5%"}</bdi>' in listing
    assert 'data-key="revenue">240.50</a>' in report


def test_the_sent_count_of_the_list_leads_to_the_report(admin_client, template, haifa, campaign):
    earning_campaign(campaign)
    draft = campaign_create(name="Draft", template=template, segments=[haifa])

    html = admin_client.get(url("campaign_changelist")).content.decode()

    assert f'<a href="{url("campaign_report", campaign.pk)}" title="Report"><bdi dir="ltr">3</bdi></a>' in html
    assert url("campaign_report", draft.pk) not in html

"""Sending reaches people, so in the back office it takes the "send campaigns" permission, not just editing."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.services import campaign_create, template_create
from segments.services import segment_create
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
VERBS = ("send", "schedule", "pause", "resume", "cancel")


@pytest.fixture
def template():
    return template_create(name="Sale", subject="Sale", html="<p>Hello</p>", language="en")


@pytest.fixture
def campaign(template):
    haifa = segment_create(name="Haifa", rules={"field": "city", "op": "eq", "value": "Haifa"})
    return campaign_create(name="Spring", template=template, segments=[haifa])


@pytest.fixture
def editor():
    """Everything on campaigns except sending."""
    group = Group.objects.create(name="Campaign editors")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="campaigns").exclude(codename="send_campaign")
    )
    return group


def verb_url(campaign, verb):
    return reverse("admin:campaigns_campaign_verb", args=[campaign.pk, verb])


def test_a_marketer_sees_and_uses_the_send_button(login, campaign, mailoutbox):
    ContactFactory(city="Haifa")
    client = login(Group.objects.get(name="Marketer"))
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert verb_url(campaign, "send") in page
    assert client.post(verb_url(campaign, "send")).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status != Campaign.Status.DRAFT


def test_an_editor_without_the_send_permission_gets_no_button_and_every_verb_refused(login, editor, campaign):
    client = login(editor)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200 and verb_url(campaign, "send") not in page.content.decode()
    for verb in VERBS:
        assert client.get(verb_url(campaign, verb)).status_code == 403
        assert client.post(verb_url(campaign, verb)).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_an_analyst_cannot_send_either(login, campaign):
    client = login(Group.objects.get(name="Analyst"))
    assert client.post(verb_url(campaign, "send")).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


@pytest.mark.parametrize("admin_name", ["campaign", "emailtemplate"])
def test_an_editor_without_the_send_permission_cannot_send_a_test(login, editor, campaign, mailoutbox, admin_name):
    contact = ContactFactory()
    obj = campaign if admin_name == "campaign" else campaign.template
    preview = reverse(f"admin:campaigns_{admin_name}_preview", args=[obj.pk])
    client = login(editor)
    assert 'name="emails"' not in client.get(preview).content.decode()
    response = client.post(preview, {"emails": "me@example.com", "contact": str(contact.pk)})
    assert response.status_code == 403
    assert mailoutbox == []


def test_a_marketer_can_send_a_test(login, template, mailoutbox):
    contact = ContactFactory()
    client = login(Group.objects.get(name="Marketer"))
    preview = reverse("admin:campaigns_emailtemplate_preview", args=[template.pk])
    client.post(preview, {"emails": "me@example.com", "contact": str(contact.pk)})
    assert [mail.to for mail in mailoutbox] == [["me@example.com"]]

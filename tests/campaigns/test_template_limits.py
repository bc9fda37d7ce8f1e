"""A template cannot exhaust the server: padding widths, loop iterations, output size and render time
are capped, refused with the line when the template is saved, and a mail that reaches a cap at send
time fails alone with the reason."""

import itertools

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns import sandbox, services
from campaigns.models import Message
from campaigns.tokens import message_token
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def html_errors(make_template, html: str, field: str = "html") -> list[str]:
    with pytest.raises(ValidationError) as error:
        make_template(html=html)
    return error.value.message_dict[field]


def letters(n: int) -> str:
    return '"' + "x" * n + '"|make_list'


@pytest.mark.parametrize(
    "expression",
    [
        '{{ contact.first_name|ljust:"999999999" }}',
        '{{ contact.first_name|rjust:"5000" }}',
        '{{ contact.first_name|center:"-99999" }}',
        '{{ club.points|floatformat:"999999" }}',
        '{{ club.points|stringformat:"09999999d" }}',
    ],
)
def test_a_padding_wider_than_the_limit_is_refused_on_save_with_its_line(make_template, expression):
    errors = html_errors(make_template, f"<p>Hi</p>\n{expression}")
    assert len(errors) == 1 and errors[0].startswith("line 2: ") and "TEMPLATE_MAX_WIDTH" in errors[0]


def test_a_padding_within_the_limit_is_fine(make_template):
    template = make_template(html='<pre>{{ contact.first_name|ljust:"20" }}|{{ club.points|floatformat:2 }}</pre>')
    rendered = services.campaign_preview(template=template, contact=ContactFactory(first_name="Dana"))
    assert "Dana" + " " * 16 + "|" in rendered.html


def test_nested_loops_past_the_iteration_limit_are_refused_on_save(make_template):
    errors = html_errors(
        make_template,
        "<p>a</p>\n<p>b</p>\n"
        f"{{% for a in {letters(200)} %}}{{% for b in {letters(200)} %}}."
        "{% endfor %}{% endfor %}",
    )
    assert errors == ["html: line 3: loops repeat more than 10000 times in all (TEMPLATE_MAX_LOOP_ITERATIONS)."]


def test_output_past_the_size_limit_is_refused_on_save(make_template, settings):
    settings.TEMPLATE_MAX_OUTPUT_BYTES = 50_000
    errors = html_errors(make_template, f'{{% for a in {letters(100)} %}}{{{{ a|ljust:"900" }}}}{{% endfor %}}')
    assert "TEMPLATE_MAX_OUTPUT_BYTES" in errors[0]


def test_a_render_past_the_time_limit_is_refused_on_save(make_template, settings, monkeypatch):
    clock = itertools.count(0.0, 0.5)
    monkeypatch.setattr(sandbox.time, "monotonic", lambda: next(clock))
    settings.TEMPLATE_MAX_RENDER_SECONDS = 2
    errors = html_errors(make_template, f"{{% for a in {letters(50)} %}}{{{{ a|upper }}}}{{% endfor %}}")
    assert "TEMPLATE_MAX_RENDER_SECONDS" in errors[0]


def test_a_template_source_longer_than_the_output_limit_is_refused(make_template, settings):
    settings.TEMPLATE_MAX_OUTPUT_BYTES = 1000
    assert "TEMPLATE_MAX_OUTPUT_BYTES" in html_errors(make_template, "<p>" + "x" * 2000 + "</p>")[0]


def test_chained_growing_filters_cannot_grow_a_value_past_the_limit(make_template, settings):
    settings.TEMPLATE_MAX_OUTPUT_BYTES = 100_000
    chain = '|make_list|join:"ab"' * 12  # three times longer at each step
    template = make_template(html=f"<p>{{{{ contact.first_name{chain} }}}}</p>")
    with pytest.raises(ValidationError) as error:
        services.campaign_preview(template=template, contact=ContactFactory(first_name="x" * 100))
    assert "TEMPLATE_MAX_OUTPUT_BYTES" in error.value.messages[0]


# ------------------------------------------------------------------ limits reached by a contact's data


@pytest.fixture
def data_driven(make_template):
    return make_template(
        html="<p>{% for i in contact.attributes.items %}{{ i }}{% endfor %}"
        '{% if contact.first_name|ljust:contact.attributes.width == "x" %}!{% endif %}</p>'
    )


def test_a_mail_past_a_limit_at_send_time_fails_alone_with_the_reason(make_campaign, run_campaign, data_driven):
    fine = ContactFactory(attributes={"items": [1, 2, 3], "width": 10})
    huge = ContactFactory(attributes={"items": list(range(20_000)), "width": 10})
    wide = ContactFactory(attributes={"items": [], "width": 10**9})

    campaign = run_campaign(make_campaign([fine, huge, wide], template=data_driven))

    assert [m.to for m in django_mail.outbox] == [[fine.email]]
    failed = {m.contact_id: m.error for m in campaign.messages.filter(status=Message.Status.FAILED)}
    assert "TEMPLATE_MAX_LOOP_ITERATIONS" in failed[huge.pk]
    assert "TEMPLATE_MAX_WIDTH" in failed[wide.pk]  # even inside an {% if %}, which hides other errors
    assert failed[huge.pk].startswith("rendering: html: line 1: ")


def test_the_preview_of_a_contact_past_a_limit_shows_the_reason(admin_client, data_driven):
    contact = ContactFactory(attributes={"items": list(range(20_000)), "width": 1})

    response = admin_client.get(
        reverse("admin:campaigns_emailtemplate_preview", args=[data_driven.pk]), {"contact": contact.pk}
    )
    frame = admin_client.get(
        reverse("admin:campaigns_emailtemplate_preview_html", args=[data_driven.pk]), {"contact": contact.pk}
    )

    assert response.status_code == 200 and "TEMPLATE_MAX_LOOP_ITERATIONS" in response.context["problems"][0]
    assert frame.status_code == 400


def test_a_preview_whose_filter_breaks_on_the_contact_data_is_an_error_not_a_crash(admin_client, make_template):
    template = make_template(html="<p>{{ club.points|divisibleby:contact.attributes.n }}</p>")
    contact = ContactFactory(attributes={"n": 0})

    response = admin_client.get(
        reverse("admin:campaigns_emailtemplate_preview", args=[template.pk]), {"contact": contact.pk}
    )

    assert response.status_code == 200 and response.context["problems"]


def test_the_browser_view_of_a_mail_past_a_limit_is_not_found(client, make_campaign, run_campaign, data_driven):
    contact = ContactFactory(attributes={"items": [1], "width": 1})
    campaign = run_campaign(make_campaign([contact], template=data_driven))
    contact.attributes = {"items": list(range(20_000)), "width": 1}
    contact.save()

    response = client.get(f"/m/{message_token(campaign.messages.get().pk)}/")

    assert response.status_code == 404

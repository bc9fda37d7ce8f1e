"""The brand settings: what they accept, who may change them, and every mail wearing them."""

import re

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import services
from campaigns.brand import LOGO_MAX_BYTES, Brand
from campaigns.branding import current_brand
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def upload(content: bytes, name: str = "logo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def html_and_text(received) -> tuple[str, str]:
    text = received.get_body(("plain",)).get_content().replace("\r\n", "\n")
    return received.get_body(("html",)).get_content(), text


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("value", ["#1D4ED8", "#000000", "#abcdef"])
def test_colours_are_six_hex_digits_and_saved_in_lower_case(value):
    brand = services.brand_update(accent_color=value)
    assert brand.accent_color == value.lower()


@pytest.mark.parametrize("value", ["red", "#12345", "#1234567", "#gggggg", "1d4ed8", "#fff;}body{x:y"])
def test_a_colour_that_is_not_rrggbb_is_refused_on_its_field(value):
    with pytest.raises(ValidationError) as error:
        services.brand_update(header_color=value)
    assert list(error.value.message_dict) == ["header_color"]


@pytest.mark.parametrize("url", ["http://cdn.example.com/logo.png", "javascript:alert(1)", "data:image/png;base64,AA"])
def test_a_logo_url_must_be_https(url):
    with pytest.raises(ValidationError) as error:
        services.brand_update(logo_url=url)
    assert "logo_url" in error.value.message_dict


@pytest.mark.parametrize(("content", "name"), [(PNG, "a.png"), (JPEG, "a.jpeg"), (GIF, "a.gif"), (WEBP, "a.webp")])
def test_png_jpeg_gif_and_webp_logos_are_kept_under_a_new_name(content, name, media):
    brand = services.brand_update(logo=upload(content, name))
    assert re.fullmatch(r"brand/logo-[0-9a-f]{16}\.\w+", brand.logo.name)
    assert (media / brand.logo.name).read_bytes() == content


@pytest.mark.parametrize(
    ("content", "name"),
    [(SVG, "logo.svg"), (SVG, "logo.png"), (b"just text", "logo.png"), (PNG, "logo.svg"), (PNG, "logo.html")],
)
def test_svg_and_anything_not_a_raster_image_is_refused_whatever_its_name(content, name, media):
    with pytest.raises(ValidationError) as error:
        services.brand_update(logo=upload(content, name))
    assert "logo" in error.value.message_dict
    assert not (media / "brand").exists() or not any((media / "brand").iterdir())


def test_a_logo_over_the_size_limit_is_refused_with_its_size():
    with pytest.raises(ValidationError) as error:
        services.brand_update(logo=upload(PNG + b"\x00" * LOGO_MAX_BYTES))
    assert "KB" in error.value.message_dict["logo"][0]


def test_a_replaced_logo_file_is_deleted_once_the_change_commits(media, django_capture_on_commit_callbacks):
    first = services.brand_update(logo=upload(PNG)).logo.name
    with django_capture_on_commit_callbacks(execute=True):
        second = services.brand_update(logo=upload(GIF, "b.gif")).logo.name
    assert not (media / first).exists() and (media / second).exists()


@pytest.mark.parametrize(
    ("field", "size"), [("name", 101), ("postal_address", 501), ("footer_he", 1001), ("sender_name", 101)]
)
def test_overlong_values_are_refused_on_their_field(field, size):
    with pytest.raises(ValidationError) as error:
        services.brand_update(**{field: "x" * size})
    assert list(error.value.message_dict) == [field]


def test_there_is_only_ever_one_brand_row():
    services.brand_update(name="One")
    services.brand_update(name="Two")
    assert list(Brand.objects.values_list("pk", "name")) == [(1, "Two")]


# ------------------------------------------------------------------ system check


def test_the_database_check_warns_while_the_postal_address_is_empty():
    ids = {message.id for message in run_checks(databases=["default"])}
    assert "campaigns.W003" in ids
    services.brand_update(postal_address="1 Herzl St, Tel Aviv")
    assert "campaigns.W003" not in {message.id for message in run_checks(databases=["default"])}


def test_the_check_reads_no_database_unless_asked(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert "campaigns.W003" not in {message.id for message in run_checks()}


# ------------------------------------------------------------------ the mail


def test_every_mail_wears_the_brand_instead_of_the_product_name(
    settings, smtp_settings, smtp_sink, make_campaign, run_campaign
):
    services.brand_update(
        name="Olive & Co",
        logo=upload(PNG),
        header_color="#112233",
        accent_color="#aa0000",
        background_color="#fafafa",
        postal_address="1 Herzl St\nTel Aviv",
        footer_en="You are a member of the Olive club.",
    )
    run_campaign(make_campaign([ContactFactory(first_name="Dana", language="en")]))
    html, text = html_and_text(smtp_sink.messages[0])

    assert settings.ADMIN_SITE_HEADER not in html and settings.ADMIN_SITE_HEADER not in text
    logo = re.search(r'<img src="([^"]+)" alt="Olive &amp; Co" height="48"', html)
    assert logo and logo.group(1) == settings.SITE_URL + f"/brand/logo/{current_brand().logo.name.split('/')[-1]}"
    assert "background: #112233" in html and "color: #ffffff" in html  # white text on the dark header
    assert "color: #aa0000" in html and "background: #fafafa" in html
    assert "1 Herzl St<br>Tel Aviv" in html and "You are a member of the Olive club." in html
    assert text.startswith("Olive & Co\n")
    assert "You are a member of the Olive club.\n1 Herzl St\nTel Aviv\n" in text


def test_a_brand_without_logo_shows_its_name_and_the_footer_follows_the_mail_language(
    smtp_settings, smtp_sink, make_campaign, make_template, run_campaign
):
    services.brand_update(name="זית", footer_he="קיבלת את המייל כי הצטרפת למועדון.", footer_en="English footer")
    template = make_template(language="he", html="<p>שלום</p>")
    run_campaign(make_campaign([ContactFactory(language="he")], template=template))
    html, text = html_and_text(smtp_sink.messages[0])
    assert re.search(r'<td class="brand"[^>]*>זית</td>', html)
    assert "קיבלת את המייל כי הצטרפת למועדון." in html and "English footer" not in html
    assert "קיבלת את המייל כי הצטרפת למועדון." in text


def test_every_brand_value_is_escaped_in_the_html(smtp_settings, smtp_sink, make_campaign, run_campaign):
    services.brand_update(name=HOSTILE, postal_address=HOSTILE, footer_en=HOSTILE)
    run_campaign(make_campaign([ContactFactory(language="en")]))
    html, _text = html_and_text(smtp_sink.messages[0])
    assert "<script" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(") == 4  # the header, the footer text, the name and the address


def test_a_template_may_use_the_brand_variables(make_template):
    from campaigns.personalization import batch_contexts
    from campaigns.rendering import render, template_compile

    services.brand_update(name="Olive", postal_address="Haifa")
    template = make_template(layout="none", html="<p>{{ brand.name }} · {{ brand.postal_address }}</p>")
    contact = ContactFactory()
    compiled = template_compile(template)
    assert "Olive · Haifa" in render(compiled, batch_contexts(compiled, [contact], {})[contact.pk]).html


def test_the_brand_is_read_once_per_batch_not_once_per_mail(smtp_settings, smtp_sink, make_campaign, run_campaign):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.brand_update(name="Olive")
    campaign = make_campaign([ContactFactory() for _ in range(6)])
    with CaptureQueriesContext(connection) as queries:
        run_campaign(campaign)
    brand_reads = [q for q in queries.captured_queries if 'FROM "campaigns_brand"' in q["sql"]]
    assert len(smtp_sink.messages) == 6 and len(brand_reads) == 1


# ------------------------------------------------------------------ the From header


def test_the_from_header_is_the_campaigns_then_the_brands_then_the_settings(
    settings, smtp_settings, smtp_sink, make_campaign, run_campaign
):
    settings.DEFAULT_FROM_EMAIL = "Default <default@example.com>"
    run_campaign(make_campaign([ContactFactory()], from_name="", from_email=""))
    services.brand_update(sender_name="Olive Club", sender_email="hello@olive.example")
    run_campaign(make_campaign([ContactFactory()], from_name="", from_email=""))
    run_campaign(make_campaign([ContactFactory()], from_name="Sale team", from_email="sale@olive.example"))
    services.brand_update(sender_name="")
    run_campaign(make_campaign([ContactFactory()], from_name="", from_email=""))

    assert [m["From"] for m in smtp_sink.messages] == [
        "Default <default@example.com>",
        "Olive Club <hello@olive.example>",
        "Sale team <sale@olive.example>",
        "Default <hello@olive.example>",
    ]
    assert smtp_sink.messages[1]["Message-ID"].endswith("@olive.example>")


# ------------------------------------------------------------------ the logo URL


def test_the_logo_is_served_publicly_with_its_type_and_nothing_else_is(client, media):
    brand = services.brand_update(logo=upload(GIF, "x.gif"))
    name = brand.logo.name.split("/")[-1]
    response = client.get(f"/brand/logo/{name}")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert b"".join(response.streaming_content) == GIF
    assert response["X-Content-Type-Options"] == "nosniff"
    (media / "brand" / "other.png").write_bytes(PNG)
    for wrong in ("other.png", "..%2Fother.png", "logo-0000000000000000.gif"):
        assert client.get(f"/brand/logo/{wrong}").status_code == 404


def test_no_logo_no_file(client):
    assert client.get("/brand/logo/logo.png").status_code == 404


# ------------------------------------------------------------------ the back office page

CHANGE_URL = "/admin/campaigns/brand/1/change/"


def form_data(**changes) -> dict:
    return {
        "name": "Olive",
        "logo_url": "",
        "header_color": "#ffffff",
        "accent_color": "#1d4ed8",
        "background_color": "#f4f4f5",
        "sender_name": "Olive Club",
        "sender_email": "hello@olive.example",
        "postal_address": "1 Herzl St, Tel Aviv",
        "footer_he": "",
        "footer_en": "",
        "_save": "Save",
        **changes,
    }


def test_the_brand_list_goes_straight_to_the_one_brand_page(login):
    client = login("Marketer")
    response = client.get("/admin/campaigns/brand/")
    assert response.status_code == 302 and response["Location"] == CHANGE_URL
    page = client.get(CHANGE_URL)
    assert page.status_code == 200
    assert b"Add brand" not in page.content and b"deletelink" not in page.content


def test_a_marketer_saves_the_brand_and_its_logo(login, media):
    client = login("Marketer")
    response = client.post(CHANGE_URL, form_data(logo=upload(PNG, "brand.png")))
    assert response.status_code == 302
    brand = current_brand()
    assert (brand.name, brand.sender_email, brand.postal_address) == (
        "Olive",
        "hello@olive.example",
        "1 Herzl St, Tel Aviv",
    )
    assert (media / brand.logo.name).read_bytes() == PNG


def test_the_page_warns_while_the_postal_address_is_empty(login):
    client = login("Marketer")
    warning = "fill in the postal address below"
    assert warning in client.get(CHANGE_URL).content.decode()
    client.post(CHANGE_URL, form_data())
    assert warning not in client.get(CHANGE_URL).content.decode()


def test_an_analyst_may_look_but_not_change_and_other_staff_may_not_look(login, django_user_model):
    services.brand_update(name="Olive")
    analyst = login("Analyst")
    assert analyst.get(CHANGE_URL).status_code == 200
    assert analyst.post(CHANGE_URL, form_data(name="Hacked")).status_code == 403
    assert current_brand().name == "Olive"
    analyst.logout()
    staff = login("Staff")
    assert staff.get(CHANGE_URL).status_code == 403
    assert staff.get("/admin/campaigns/brand/preview/en/").status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "x" * 100_000}, "name"),
        ({"postal_address": "x" * 100_000}, "postal_address"),
        ({"header_color": "red"}, "header_color"),
        ({"accent_color": "#1d4ed8;}</style><script>"}, "accent_color"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"logo_url": "http://example.com/a.png"}, "logo_url"),
        ({"sender_email": "not an address"}, "sender_email"),
        ({"logo": SimpleUploadedFile("logo.svg", SVG, content_type="image/svg+xml")}, "logo"),
        ({"logo": SimpleUploadedFile("logo.png", SVG, content_type="image/png")}, "logo"),
    ],
)
def test_hostile_input_is_refused_on_its_field_never_a_server_error(login, changes, field):
    client = login("Marketer")
    response = client.post(CHANGE_URL, form_data(**changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert current_brand().name == ""


def test_the_sample_mail_frame_is_sandboxed_and_escapes_the_brand(login):
    services.brand_update(name=HOSTILE, postal_address="Haifa")
    client = login("Marketer")
    for language, direction in (("he", "rtl"), ("en", "ltr")):
        response = client.get(f"/admin/campaigns/brand/preview/{language}/")
        assert response.status_code == 200
        assert "sandbox" in response["Content-Security-Policy"]
        html = response.content.decode()
        assert f'dir="{direction}"' in html and "<script" not in html and "&lt;script&gt;" in html
    assert client.get("/admin/campaigns/brand/preview/fr/").status_code == 403

"""Hebrew from day one: the catalogue is complete and compiled, and the back office answers in Hebrew, right to left."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "he" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"


def parse_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (str or {n: str}), flags, obsolete."""
    entries, entry, key = [], None, None

    def finish():
        if entry is not None and "msgid" in entry:
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            finish()
            entry, key = None, None
            continue
        if entry is None:
            entry = {"flags": set(), "obsolete": False, "msgstr": ""}
        if line.startswith("#~"):
            entry["obsolete"] = True
            line = line[2:].strip()
            if not line:
                continue
        elif line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        elif line.startswith("#"):
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
        if match:
            name, index, literal = match.groups()
            value = ast.literal_eval(literal)
            if index is not None:
                if not isinstance(entry["msgstr"], dict):
                    entry["msgstr"] = {}
                key = ("msgstr", int(index))
                entry["msgstr"][int(index)] = value
            else:
                key = (name, None)
                entry[name] = value
        elif line.startswith('"') and key is not None:
            value = ast.literal_eval(line)
            name, index = key
            if index is None:
                entry[name] += value
            else:
                entry["msgstr"][index] += value
    finish()
    return entries


@pytest.fixture(scope="module")
def po_entries() -> list[dict]:
    return parse_po(PO)


@pytest.fixture(scope="module")
def messages(po_entries) -> list[dict]:
    return [e for e in po_entries if e["msgid"] and not e["obsolete"]]


def test_catalogue_header_has_two_plural_forms(po_entries):
    header = next(e for e in po_entries if e["msgid"] == "")
    assert "fuzzy" not in header["flags"]
    assert "Language: he\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header["msgstr"]


def test_catalogue_is_large_and_every_entry_is_translated(messages):
    assert len(messages) > 500
    untranslated = [
        e["msgid"]
        for e in messages
        if (not all(e["msgstr"].values()) if isinstance(e["msgstr"], dict) else not e["msgstr"])
    ]
    assert untranslated == []


def test_no_fuzzy_entries(messages):
    assert [e["msgid"] for e in messages if "fuzzy" in e["flags"]] == []


def test_plural_entries_fill_both_forms(messages):
    plural = [e for e in messages if "msgid_plural" in e]
    assert plural
    for e in plural:
        assert sorted(e["msgstr"]) == [0, 1], e["msgid"]


def test_placeholders_and_markup_are_kept(messages):
    named = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]")
    tags = re.compile(r"</?[a-z][^>]*>")
    for e in messages:
        forms = list(e["msgstr"].values()) if isinstance(e["msgstr"], dict) else [e["msgstr"]]
        for text in forms:
            if "python-format" in e["flags"]:
                assert sorted(named.findall(text)) == sorted(named.findall(e["msgid"])), (e["msgid"], text)
            assert sorted(tags.findall(text)) == sorted(tags.findall(e["msgid"])), (e["msgid"], text)


def test_translations_are_hebrew(messages):
    """Only code, names and format examples may stay in Latin letters; the rest reads in Hebrew."""
    hebrew = re.compile(r"[\u0590-\u05FF]")
    words = re.compile(r"%\(\w+\)[sd]")  # placeholders are not words: "%(outer)s ← %(inner)s" has none
    latin_only = [
        e["msgid"]
        for e in messages
        if not isinstance(e["msgstr"], dict)
        and not hebrew.search(e["msgstr"])
        and e["msgstr"] != e["msgid"]
        and re.search(r"[A-Za-z]", words.sub("", e["msgstr"]))
    ]
    assert latin_only == []
    kept = [e["msgid"] for e in messages if not isinstance(e["msgstr"], dict) and e["msgstr"] == e["msgid"]]
    assert len(kept) < 20, kept  # API, SMS, SKU-like names and formulas only


def test_mo_is_compiled_from_the_current_po(messages):
    assert MO.exists()
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for e in messages:
        msgid = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if isinstance(e["msgstr"], dict):
            assert compiled.ngettext(msgid, e["msgid_plural"], 1) == e["msgstr"][0], e["msgid"]
            assert compiled.ngettext(msgid, e["msgid_plural"], 5) == e["msgstr"][1], e["msgid"]
        else:
            assert compiled.gettext(msgid) == e["msgstr"], f"{e['msgid']!r}: run compilemessages -l he"


def test_model_names_and_choices_render_in_hebrew():
    from contacts.models import Contact, FunnelStage, Lifecycle, LoyaltyMember
    from segments.models import Segment

    with translation.override("he"):
        assert str(Contact._meta.verbose_name) == "איש קשר"
        assert str(Contact._meta.verbose_name_plural) == "אנשי קשר"
        assert str(Segment._meta.verbose_name) == "פלח"
        assert str(LoyaltyMember._meta.verbose_name) == "חבר מועדון"
        assert str(Contact._meta.get_field("funnel_stage").verbose_name) == "שלב במשפך"
        assert str(FunnelStage.PURCHASER.label) == "רוכש"
        assert str(Lifecycle.AT_RISK.label) == "בסיכון נטישה"
    with translation.override("en"):
        assert str(Contact._meta.verbose_name_plural) == "contacts"


def test_plural_forms_pick_by_count():
    with translation.override("he"):
        assert translation.ngettext("%(n)d key revoked.", "%(n)d keys revoked.", 1) % {"n": 1} == "1 מפתח בוטל."
        assert translation.ngettext("%(n)d key revoked.", "%(n)d keys revoked.", 3) % {"n": 3} == "3 מפתחות בוטלו."


def test_service_errors_speak_hebrew():
    from contacts import normalize

    with translation.override("he"), pytest.raises(ValidationError) as caught:
        normalize.email("not-an-email")
    assert "אינה כתובת אימייל תקינה" in str(caught.value.message_dict["email"][0])


@pytest.mark.django_db
def test_rule_errors_speak_hebrew():
    from segments import services

    with translation.override("he"), pytest.raises(ValidationError) as caught:
        services.segment_create(name="x", kind="dynamic", rules=None)
    assert "פלח דינמי חייב לכלול כללים." in " ".join(caught.value.messages)


HEBREW_PAGES = [
    ("/admin/", "אנשי קשר"),
    ("/admin/contacts/contact/", "לפי שלב במשפך"),
    ("/admin/segments/segment/add/", "עריכה כ-JSON"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("url, text", HEBREW_PAGES)
def test_admin_answers_in_hebrew_to_accept_language(admin_client, url, text):
    response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="he")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="he" dir="rtl">' in html
    assert text in html


@pytest.fixture(scope="class")
def language_once_the_test_is_over():
    """Looked at after the test and all of its own fixtures are torn down: what the next test in this
    worker would start with."""
    yield
    assert translation.get_language() == settings.LANGUAGE_CODE


@pytest.mark.usefixtures("language_once_the_test_is_over")
class TestAfterAHebrewRequest:
    @pytest.mark.django_db
    def test_the_next_test_starts_in_the_default_language_again(self, admin_client):
        response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="he")

        assert '<html lang="he" dir="rtl">' in response.content.decode()
        assert translation.get_language() == "he"  # the request leaves Hebrew on in this thread


@pytest.mark.django_db
def test_contact_page_is_in_hebrew(admin_client):
    from tests.factories import ContactFactory

    contact = ContactFactory(phone="+972501234567")
    response = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/", HTTP_ACCEPT_LANGUAGE="he")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'dir="rtl"' in html
    assert "ציר זמן" in html and "שלב במשפך" in html
    assert "crm/admin-rtl.css" in html  # phone numbers stay "+972…" on a right-to-left page


@pytest.mark.django_db
def test_admin_follows_the_language_cookie(admin_client):
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "he"
    html = admin_client.get("/admin/contacts/contact/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="he" dir="rtl">' in html


@pytest.mark.django_db
def test_setlang_switches_to_hebrew_and_back(admin_client):
    response = admin_client.post("/i18n/setlang/", {"language": "he", "next": "/admin/"})
    assert response.status_code == 302
    assert '<html lang="he" dir="rtl">' in admin_client.get("/admin/").content.decode()
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert '<html lang="en" dir="ltr">' in admin_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_english_stays_left_to_right(admin_client):
    html = admin_client.get("/admin/contacts/contact/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en" dir="ltr">' in html
    assert "crm/admin-rtl.css" not in html


@pytest.mark.django_db
def test_api_docs_page_and_schema_in_hebrew(client):
    html = client.get("/api/docs/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert '<html lang="he" dir="rtl">' in html
    schema = client.get("/api/schema/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    assert "רשימת אנשי קשר" in schema


def admin_script_strings() -> set[str]:
    """The strings Django admin's own scripts translate (gettext('…') in static/admin/js, vendor code aside)."""
    import django.contrib.admin

    scripts = Path(django.contrib.admin.__file__).parent / "static" / "admin" / "js"
    found = set()
    for script in scripts.rglob("*.js"):
        if "vendor" not in script.parts:
            found |= {
                m.group(2) for m in re.finditer(r"""\bgettext\(\s*(['"])(.*?)(?<!\\)\1\s*\)""", script.read_text())
            }
    return found


@pytest.mark.django_db
def test_every_string_of_the_admin_scripts_has_hebrew(admin_client):
    """The dual-list widget (campaign segments, contact tags) and the calendar speak Hebrew: Django's catalogue
    leaves some of their strings out, locale/he/LC_MESSAGES/djangojs.po fills them in."""
    catalog = admin_client.get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="he").content.decode()
    with open(LC_MESSAGES / "djangojs.mo", "rb") as compiled:
        assert gettext.GNUTranslations(compiled).gettext("Choose all %s") == "בחירת כל %s"
    strings = admin_script_strings()
    assert len(strings) > 20
    missing = [s for s in strings if json_quoted(s) not in catalog]
    assert missing == []


def json_quoted(text: str) -> str:
    import json

    return json.dumps(text)

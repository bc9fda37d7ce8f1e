"""Exports follow each channel's own consent, and members and exports need `contacts:read` as well as the
segment scope."""

import csv
import hashlib
import io

import pytest

from contacts.models import EmailStatus
from segments import services
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def people():
    return {
        "email only": ContactFactory(
            email="mail@example.com", phone="+972501111111", email_opt_in=True, sms_opt_in=False
        ),
        "sms only": ContactFactory(
            email="nomail@example.com", phone="+972502222222", email_opt_in=False, sms_opt_in=True
        ),
        "phone, no email": ContactFactory(email=None, phone="+972503333333", email_opt_in=False, sms_opt_in=True),
        "unsubscribed": ContactFactory(
            email="gone@example.com",
            phone="+972504444444",
            email_opt_in=True,
            email_status=EmailStatus.UNSUBSCRIBED,
            sms_opt_in=False,
        ),
        "neither": ContactFactory(email="no@example.com", phone="+972505555555", email_opt_in=False, sms_opt_in=False),
    }


@pytest.fixture
def segment(people):
    return services.segment_create(name="Everyone", rules={"all": []})


@pytest.fixture
def reader(make_client):
    return make_client("segments:read", "contacts:read")


def export(client, segment, fmt):
    response = client.get(f"/api/v1/segments/{segment.pk}/export/?format={fmt}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    return rows[1:]


def test_the_csv_carries_each_address_only_with_its_channel_consent(reader, segment, people):
    # a leading "'" is the spreadsheet-formula guard on cells that start with "+"
    rows = {row[0]: (row[1], row[2].lstrip("'")) for row in export(reader, segment, "csv")}
    assert rows == {
        str(people["email only"].pk): ("mail@example.com", ""),
        str(people["sms only"].pk): ("", "+972502222222"),
        str(people["phone, no email"].pk): ("", "+972503333333"),
    }


def test_meta_hashes_only_consented_emails_and_phones(reader, segment):
    pairs = {(row[0], row[1]) for row in export(reader, segment, "meta")}
    assert pairs == {(sha("mail@example.com"), ""), ("", sha("972502222222")), ("", sha("972503333333"))}


def test_google_hashes_only_consented_emails_and_phones(reader, segment):
    pairs = {(row[0], row[1]) for row in export(reader, segment, "google")}
    assert pairs == {(sha("mail@example.com"), ""), ("", sha("+972502222222")), ("", sha("+972503333333"))}


def test_an_unsubscribed_or_unconsenting_contact_is_left_out_entirely(reader, segment, people):
    rows = export(reader, segment, "csv")
    ids = {row[0] for row in rows}
    assert str(people["unsubscribed"].pk) not in ids and str(people["neither"].pk) not in ids
    addresses = {value for row in rows for value in row[1:3]}
    assert not {"gone@example.com", "no@example.com", "+972504444444", "+972505555555"} & addresses


@pytest.mark.parametrize("path", ["members/", "export/?format=csv", "export/?format=meta"])
def test_members_and_exports_need_contacts_read_too(make_client, segment, path):
    url = f"/api/v1/segments/{segment.pk}/{path}"
    assert make_client("segments:read").get(url).status_code == 403
    assert make_client("segments:read", "segments:write", "campaigns:read").get(url).status_code == 403
    assert make_client("contacts:read").get(url).status_code == 403
    assert make_client("segments:read", "contacts:read").get(url).status_code == 200


def test_the_segment_itself_and_its_count_still_need_only_segments_read(make_client, segment):
    client = make_client("segments:read")
    assert client.get(f"/api/v1/segments/{segment.pk}/").status_code == 200
    assert client.get(f"/api/v1/segments/{segment.pk}/count/").status_code == 200


def test_changing_a_static_list_needs_only_segments_write(make_client, people):
    static = services.segment_create(name="Guests", kind="static")
    response = make_client("segments:write").post(
        f"/api/v1/segments/{static.pk}/members/", {"contacts": [people["neither"].pk]}, format="json"
    )
    assert response.status_code == 200

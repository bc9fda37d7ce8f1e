"""Segment exports: cells a spreadsheet would run as formulas are written as text; the ad-platform
files (hashed columns) keep their platforms' formats."""

import csv
import io

import pytest
from django.urls import reverse

from crm.csv_safety import safe_cell
from segments import services
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def export(client, segment, fmt):
    response = client.get(reverse("admin:segments_segment_export", args=[segment.pk, fmt]))
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("value", ["=1+1", "+972501234567", "-5", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_text_starting_like_a_formula_gets_a_quote_in_front(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Dana", "", "a=b", "972501234567", 5, -5, None])
def test_other_values_are_left_as_they_are(value):
    assert safe_cell(value) == value


def test_the_plain_csv_export_neutralises_formulas_in_every_text_column(admin_client):
    ContactFactory(
        email="a@example.com",
        phone="+972501234567",
        first_name="=cmd|' /C calc'!A0",
        last_name="@x",
        city="+1",
        email_opt_in=True,
        sms_opt_in=True,
    )
    segment = services.segment_create(name="All", rules={"all": []})

    rows = export(admin_client, segment, "csv")

    assert rows[1][1:6] == ["a@example.com", "'+972501234567", "'=cmd|' /C calc'!A0", "'@x", "'+1"]


@pytest.mark.parametrize("fmt", ["meta", "google"])
def test_ad_platform_files_have_no_quoted_cells(admin_client, fmt):
    ContactFactory(
        email="=a@example.com", phone="+972501234567", first_name="=x", country="IL", email_opt_in=True, sms_opt_in=True
    )
    segment = services.segment_create(name="All", rules={"all": []})

    rows = export(admin_client, segment, fmt)

    assert len(rows) == 2
    assert not any(cell.startswith("'") for cell in rows[1])

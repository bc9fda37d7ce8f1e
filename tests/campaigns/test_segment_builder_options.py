"""Campaigns plugs its campaign picker into the segment builder (segments never reads campaigns)."""

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_builder_offers_the_latest_campaigns_first(admin_client, make_campaign):
    older = make_campaign([], name="Winter sale")
    newer = make_campaign([], name="Spring sale")
    html = admin_client.get(reverse("admin:segments_segment_add")).content.decode()
    options = json.loads(html.split('id="builder-options" type="application/json">')[1].split("</script>")[0])
    assert options["campaign"][:2] == [
        {"value": newer.pk, "label": "Spring sale"},
        {"value": older.pk, "label": "Winter sale"},
    ]
    assert {"sku_list", "tag", "segment", "attribute_key"} <= set(options)

"""Tracking URLs and link rewriting for campaign mail.

Every http(s) link of a message is registered as a Link of its campaign and replaced by the click
redirect, which only ever sends people to a Link of that same campaign (no open redirect). UTM
parameters are added to the destination unless the link already has them.
"""

import functools
import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from .models import Campaign, Link

HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2([^>]*>)""", re.IGNORECASE | re.DOTALL)
NO_TRACK = re.compile(r"""\bdata-no-track\s*=""", re.IGNORECASE)


def _base() -> str:
    return settings.SITE_URL.rstrip("/")


def open_url(token: str) -> str:
    return f"{_base()}/t/o/{token}.gif"


def click_url(token: str, link_id: int) -> str:
    return f"{_base()}/t/c/{token}/{link_id}/"


def unsubscribe_url(token: str) -> str:
    return f"{_base()}/u/{token}/"


def browser_url(token: str) -> str:
    return f"{_base()}/m/{token}/"


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def utm_campaign(campaign: Campaign) -> str:
    return campaign.utm_campaign or slugify(campaign.name, allow_unicode=False) or f"campaign-{campaign.pk}"


def add_utm(url: str, campaign: Campaign) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _value in query}
    wanted = [
        ("utm_source", campaign.utm_source),
        ("utm_medium", campaign.utm_medium),
        ("utm_campaign", utm_campaign(campaign)),
    ]
    query += [(key, value) for key, value in wanted if value and key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def link_register(campaign: Campaign, url: str) -> int:
    """The id of `url` among the campaign's links, created on first sight (safe under concurrency).

    Ids are remembered per process; the key includes the campaign's creation time, so a campaign id
    reused after a deletion never gets another campaign's link."""
    return _link_id(campaign.pk, campaign.created_at.timestamp(), url)


@functools.lru_cache(maxsize=50_000)
def _link_id(campaign_id: int, campaign_created: float, url: str) -> int:
    digest = url_hash(url)
    link = Link.objects.filter(campaign_id=campaign_id, url_hash=digest).only("pk").first()
    if link is None:
        try:
            with transaction.atomic():
                link = Link.objects.create(campaign_id=campaign_id, url=url, url_hash=digest)
        except IntegrityError:
            link = Link.objects.get(campaign_id=campaign_id, url_hash=digest)
    return link.pk


def rewrite_links(html: str, *, campaign: Campaign, token: str) -> str:
    """Point every http(s) link at the click redirect; links marked data-no-track stay as they are."""
    import html as html_lib

    def replace(match: re.Match) -> str:
        start, quote, href, end = match.groups()
        if NO_TRACK.search(start + end):
            return match.group(0)
        target = html_lib.unescape(href).strip()
        if not target.lower().startswith(("http://", "https://")):
            return match.group(0)
        link_id = link_register(campaign, add_utm(target, campaign))
        return f"{start}{quote}{click_url(token, link_id)}{quote}{end}"

    return HREF.sub(replace, html)


def add_pixel(html: str, token: str) -> str:
    """One open pixel, just before </body> (or at the end when there is no body tag)."""
    pixel = f'<img src="{open_url(token)}" width="1" height="1" alt="" style="display:block;border:0">'
    index = html.lower().rfind("</body>")
    return html[:index] + pixel + html[index:] if index >= 0 else html + pixel

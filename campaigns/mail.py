"""One campaign mail as it leaves the building (CONTRACT.md §5).

Multipart text + HTML, a Message-ID we keep, List-Unsubscribe with one-click POST, a visible
unsubscribe link, one open pixel and every http(s) link pointed at the click redirect.
"""

from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from . import links
from .brand import Brand
from .branding import current_brand, sender_parts
from .models import Campaign, EmailTemplate
from .rendering import Compiled, Rendered
from .tokens import message_token

PREVIEW_URLS = {"unsubscribe_url": "#unsubscribe", "view_in_browser_url": "#view-in-browser"}


def campaign_context(campaign: Campaign | None) -> dict:
    return {"campaign": {"name": campaign.name if campaign else ""}}


def message_urls(message_pk: int) -> dict:
    """The tracking token of a message and the URLs its template may use."""
    token = message_token(message_pk)
    return {
        "token": token,
        "unsubscribe_url": links.unsubscribe_url(token),
        "view_in_browser_url": links.browser_url(token),
    }


def sender(campaign: Campaign | None, brand: Brand | None = None) -> str:
    """`from_name <from_email>`: each part the campaign's, else the brand's, else DEFAULT_FROM_EMAIL's.
    Pass `brand` when making many mails, so it is read once."""
    default_name, default_email = sender_parts(brand or current_brand())
    name = (campaign.from_name if campaign else "") or default_name
    address = (campaign.from_email if campaign else "") or default_email
    return formataddr((name, address)) if name else address


def sender_domain(campaign: Campaign | None, brand: Brand | None = None) -> str:
    return parseaddr(sender(campaign, brand))[1].rpartition("@")[2] or "localhost"


def with_unsubscribe_footer(html: str, url: str, language: str) -> str:
    """A template without the layout may forget the unsubscribe link; the law and the contract do not."""
    if url in html:
        return html
    with translation.override(language):
        label = _("Unsubscribe")
    footer = (
        f'<p style="font-size:12px;color:#6b7280;text-align:center">'
        f'<a href="{escape(url)}" data-no-track="1">{escape(label)}</a></p>'
    )
    index = html.lower().rfind("</body>")
    return html[:index] + footer + html[index:] if index >= 0 else html + footer


def tracked_html(rendered: Rendered, *, campaign: Campaign, compiled: Compiled, urls: dict) -> str:
    html = with_unsubscribe_footer(rendered.html, urls["unsubscribe_url"], compiled.language)
    html = links.rewrite_links(html, campaign=campaign, token=urls["token"])
    return links.add_pixel(html, urls["token"])


def unsubscribe_headers(urls: dict) -> dict:
    targets = [f"<{urls['unsubscribe_url']}>"]
    if settings.UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe%20{urls['token']}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def new_message_id(campaign: Campaign | None, brand: Brand | None = None) -> str:
    return make_msgid(domain=sender_domain(campaign, brand))


def build(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    campaign: Campaign | None,
    headers: dict | None = None,
    brand: Brand | None = None,
) -> EmailMultiAlternatives:
    reply_to = [campaign.reply_to] if campaign and campaign.reply_to else []
    mail = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender(campaign, brand),
        to=[to],
        reply_to=reply_to,
        headers=headers or {},
    )
    mail.attach_alternative(html, "text/html")
    return mail


def campaign_mail(
    *,
    campaign: Campaign,
    compiled: Compiled,
    rendered: Rendered,
    to: str,
    urls: dict,
    message_id: str,
    brand: Brand | None = None,
) -> EmailMultiAlternatives:
    """The tracked mail of one Message; `urls` comes from `message_urls`."""
    html = tracked_html(rendered, campaign=campaign, compiled=compiled, urls=urls)
    headers = {"Message-ID": message_id, **unsubscribe_headers(urls)}
    return build(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=html,
        campaign=campaign,
        headers=headers,
        brand=brand,
    )


def proof_mail(
    *, campaign: Campaign | None, template: EmailTemplate, rendered: Rendered, to: str
) -> EmailMultiAlternatives:
    """A marked copy for the marketer: links untracked, nothing recorded."""
    with translation.override(template.language):
        marker = _("[TEST]")
    headers = {"Message-ID": new_message_id(campaign)}
    return build(
        to=to,
        subject=f"{marker} {rendered.subject}",
        text=rendered.text,
        html=rendered.html,
        campaign=campaign,
        headers=headers,
    )

"""A mail from blocks: a marketer fills simple fields (hero, text, button, product cards) and gets the
template's HTML, to edit further or save as it is.

The brand's header (with its logo) and footer (with the unsubscribe link and the postal address) are
the default layout's, so a mail built from blocks always wears the brand as it is when it is sent.
Colours are the `brand` variables, not today's values copied in. The result is template source, not
a page: what the marketer typed is escaped into it, so "Shop & save" reads as typed, while template
variables and tags in it (`{{ contact.first_name }}`) stay template code, checked like any template's
when it is saved (and every mail is made inert by `campaigns.html_safety` whatever its source).
"""

import re

from django import forms
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from .html_safety import url_is_safe

PRODUCT_LISTS = ("recommended", "running_out")
TEMPLATE_CODE = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})")
BUTTON_STYLE = (
    "display:inline-block;padding:12px 28px;border-radius:6px;background:{{ brand.accent_color }};"
    "color:#ffffff;font-weight:bold;text-decoration:none;"
)
CARD_STYLE = (
    "display:inline-block;vertical-align:top;width:240px;max-width:100%;margin:6px;padding:12px;"
    "border:1px solid #e5e7eb;border-radius:6px;box-sizing:border-box;"
)


def _url_field(label) -> forms.CharField:
    """A URL typed into a plain text box: the editor's form must not stop "Save" over a half-typed link."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"dir": "ltr", "inputmode": "url", "placeholder": "https://"}),
    )


class BlocksForm(forms.Form):
    """The blocks, in the order the mail shows them; each one is left out while its fields are empty."""

    hero_image_url = _url_field(_("Hero image address"))
    hero_title = forms.CharField(label=_("Headline"), required=False, max_length=200)
    hero_text = forms.CharField(label=_("Line under the headline"), required=False, max_length=500)
    text = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=5000,
        help_text=_("A blank line starts a new paragraph. {{ contact.first_name }} puts the contact's first name."),
        widget=forms.Textarea(attrs={"rows": 4, "dir": "auto"}),
    )
    button_label = forms.CharField(label=_("Button text"), required=False, max_length=80)
    button_url = _url_field(_("Button link"))
    products = forms.ChoiceField(
        label=_("Product cards"),
        required=False,
        choices=[
            ("", _("None")),
            ("recommended", _("Recommended for each contact")),
            ("running_out", _("Products running out for each contact")),
        ],
    )

    def clean_hero_image_url(self) -> str:
        return self._https("hero_image_url")

    def clean_button_url(self) -> str:
        return self._https("button_url")

    def _https(self, name: str) -> str:
        value = self.cleaned_data[name].strip()
        if value and not (value.startswith(("https://", "http://")) and url_is_safe(value)):
            raise forms.ValidationError(_("Give a full address that starts with https://."))
        return value

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("button_label") and not data.get("button_url"):
            self.add_error("button_url", _("A button needs a link."))
        return data


def blocks_html(*, data: dict) -> str:
    """The template source of the filled blocks (the cleaned data of BlocksForm)."""
    parts = [_hero(data), _text(data.get("text", "")), _button(data), _products(data.get("products", ""))]
    return "\n".join(part for part in parts if part) + "\n"


def _typed(text: str) -> str:
    """Text as typed, escaped, except the template variables and tags in it, which stay template code
    (quotes and all: `{{ contact.first_name|default:'friend' }}`) for the template check to judge."""
    return "".join(part if index % 2 else escape(part) for index, part in enumerate(TEMPLATE_CODE.split(text)))


def _hero(data: dict) -> str:
    image, title, line = data.get("hero_image_url"), data.get("hero_title"), data.get("hero_text")
    if not (image or title or line):
        return ""
    inner = ""
    if image:
        inner += (
            f'<img src="{escape(image)}" alt="{escape(title or "")}" width="552" style="width:100%;border-radius:6px;">'
        )
    if title:
        inner += f'<h1 style="margin:16px 0 8px;font-size:26px;">{_typed(title)}</h1>'
    if line:
        inner += f'<p style="margin:0;font-size:18px;color:#4b5563;">{_typed(line)}</p>'
    return f'<div style="text-align:center;margin:0 0 20px;">{inner}</div>'


def _text(text: str) -> str:
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "\n".join("<p>" + "<br>".join(_typed(line) for line in p.split("\n")) + "</p>" for p in paragraphs)


def _button(data: dict) -> str:
    if not data.get("button_label"):
        return ""
    return (
        f'<p style="text-align:center;margin:24px 0;"><a href="{escape(data["button_url"])}" '
        f'style="{BUTTON_STYLE}">{_typed(data["button_label"])}</a></p>'
    )


def _products(kind: str) -> str:
    """Cards of the contact's own products: each mail lists what that contact gets, none when it has none."""
    if kind not in PRODUCT_LISTS:
        return ""
    name = kind
    return (
        f'{{% if {name} %}}<div style="text-align:center;margin:16px 0;">\n'
        f"{{% for product in {name} %}}"
        f'<div style="{CARD_STYLE}">'
        '<div style="font-size:12px;color:#6b7280;">{{ product.category }}</div>'
        '<div style="font-weight:bold;margin:4px 0;">{{ product.name }}</div>'
        '<div style="color:{{ brand.accent_color }};">{{ product.price_label }}</div>'
        "</div>{% endfor %}\n</div>{% endif %}"
    )

"""Custom fields on the contact form: one typed input per definition (text, number, date, yes/no, choice)
instead of the raw JSON of `Contact.attributes`.

The values are checked by the one owner of custom-field types, `normalize.attribute_value`, on the server;
an error names the field by its label. Keys without a definition (sent by a shop's API, an import) are not
shown as inputs and are kept as they are when the form is saved.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .. import normalize
from ..models import CustomField

TEXT_MAX_LENGTH = 1000  # a custom text value is a word or a line, never a document
SHOWN_UNDEFINED = 20  # keys without a definition listed under the inputs; the rest are kept unseen
BOOLEAN_CHOICES = (("", "—"), ("true", _("yes")), ("false", _("no")))


def input_for(definition: CustomField) -> forms.Widget:
    """The browser input that fits the definition's type."""
    if definition.type == CustomField.Type.NUMBER:
        return forms.NumberInput(attrs={"step": "any"})
    if definition.type == CustomField.Type.DATE:
        return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    if definition.type == CustomField.Type.BOOLEAN:
        return forms.Select(choices=BOOLEAN_CHOICES)
    if definition.type == CustomField.Type.CHOICE:
        return forms.Select(choices=[("", "—"), *((str(c), str(c)) for c in definition.choices)])
    return forms.TextInput(attrs={"maxlength": TEXT_MAX_LENGTH, "class": "vTextField"})


def shown_value(definition: CustomField, value: Any) -> str:
    """A stored value as its input expects it (yes/no as "true"/"false", None as empty)."""
    if value is None:
        return ""
    if definition.type == CustomField.Type.BOOLEAN:
        return "true" if value is True else "false" if value is False else str(value)
    return str(value)


class CustomFieldsWidget(forms.Widget):
    """Renders one labelled input per definition; reads them back as {key: raw text}."""

    definitions: list[CustomField]

    def __init__(self, definitions: list[CustomField] | None = None, attrs=None):
        super().__init__(attrs)
        self.definitions = definitions or []

    def value_from_datadict(self, data, files, name) -> dict[str, str]:
        return {d.key: data.get(f"{name}__{d.key}", "") for d in self.definitions}

    def value_omitted_from_data(self, data, files, name) -> bool:
        return not any(f"{name}__{d.key}" in data for d in self.definitions)

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        value = value if isinstance(value, dict) else {}
        if not self.definitions:
            return format_html(
                '<p class="help">{}</p>', _("No custom fields are defined yet (Contacts › Custom fields).")
            )
        rows = format_html_join("", "{}", ((self.render_one(name, d, value.get(d.key)),) for d in self.definitions))
        return format_html('<div class="custom-fields">{}{}</div>', rows, self.render_undefined(value))

    def render_one(self, name: str, definition: CustomField, value: Any) -> SafeString:
        html_id = f"id_{name}__{definition.key}"
        raw = value if isinstance(value, str) and definition.type != CustomField.Type.BOOLEAN else None
        widget = input_for(definition)
        shown = raw if raw is not None else shown_value(definition, value)
        help_html = format_html('<div class="help">{}</div>', definition.help_text) if definition.help_text else ""
        return format_html(
            '<div class="custom-field custom-field-{}"><label for="{}">{}</label>{}{}</div>',
            definition.type,
            html_id,
            definition.label,
            widget.render(f"{name}__{definition.key}", shown, attrs={"id": html_id}),
            help_html,
        )

    def render_undefined(self, value: dict) -> SafeString | str:
        defined = {d.key for d in self.definitions}
        others = [(k, v) for k, v in value.items() if k not in defined][:SHOWN_UNDEFINED]
        if not others:
            return ""
        items = format_html_join("", "<li><bdi>{}</bdi>: <bdi>{}</bdi></li>", ((k, str(v)[:200]) for k, v in others))
        note = _("Also stored, without a field definition (kept as they are):")
        return format_html('<div class="custom-fields-other">{}<ul>{}</ul></div>', note, items)


class CustomFieldsField(forms.Field):
    """Cleans the typed inputs into {key: value} for the defined keys (None where left empty)."""

    def __init__(self, *, definitions: list[CustomField] | None = None, **kwargs):
        self.definitions = definitions or []
        kwargs.setdefault("required", False)
        super().__init__(widget=CustomFieldsWidget(self.definitions), **kwargs)

    def bound_data(self, data, initial):
        return data  # the raw inputs go back to the page as typed when there is an error

    def to_python(self, value) -> dict[str, Any]:
        raw = value if isinstance(value, dict) else {}
        cleaned: dict[str, Any] = {}
        errors = []
        for definition in self.definitions:
            try:
                cleaned[definition.key] = self.clean_one(definition, raw.get(definition.key, ""))
            except ValidationError as exc:
                for message in exc.messages:
                    errors.append(
                        ValidationError(
                            "%(label)s: %(message)s", params={"label": definition.label, "message": message}
                        )
                    )
        if errors:
            raise ValidationError(errors)
        return cleaned

    def clean_one(self, definition: CustomField, raw: Any) -> Any:
        text = raw if isinstance(raw, str) else ""
        if len(text) > TEXT_MAX_LENGTH:
            raise ValidationError(_("At most %(limit)d characters.") % {"limit": TEXT_MAX_LENGTH})
        value = normalize.attribute_value(definition, text, definition.key)
        return None if value in ("", None) else value

    def has_changed(self, initial, data) -> bool:
        try:
            typed = self.to_python(data)
        except ValidationError:
            return True
        stored = initial if isinstance(initial, dict) else {}
        return any(typed.get(d.key) != stored.get(d.key) for d in self.definitions)


def merged_attributes(stored: Any, typed: dict[str, Any]) -> dict[str, Any]:
    """The stored attributes with the typed inputs applied: keys without a definition stay as they were,
    a defined key left empty goes."""
    merged = {k: v for k, v in (stored if isinstance(stored, dict) else {}).items() if k not in typed}
    merged.update({k: v for k, v in typed.items() if v is not None})
    return merged


def custom_field_definitions() -> list[CustomField]:
    return list(CustomField.objects.order_by("label", "key"))

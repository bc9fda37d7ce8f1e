"""Forms of the back office; they read input with the same normalizers as the API's serializers and hand
the services typed values."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .. import normalize, selectors, services
from ..models import CONSENT_TEXT_MAX_LENGTH, Contact
from .base import add_service_errors
from .custom_fields import CustomFieldsField, custom_field_definitions, merged_attributes

CONTACT_SERVICE_FIELDS = (
    services.IDENTITY_FIELDS
    + services.PROFILE_FIELDS
    + (
        "email_opt_in",
        "sms_opt_in",
        "consent_text",
        "tags",
    )
)


class ContactAdminForm(forms.ModelForm):
    """Normalizes like the services do and names the field of any conflict.

    Model constraint checks then run on normalized values, and a taken email comes back as
    "already belongs to contact #N" on the email field rather than a generic constraint message.
    """

    consent_text = forms.CharField(
        label=_("Consent text shown"),
        required=False,
        strip=True,
        max_length=CONSENT_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "The wording the person agreed to (a form's checkbox text, a shop's sign-up sheet). "
            "Logged with the consent change this save makes."
        ),
    )

    class Meta:
        model = Contact
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose the fields it shows

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "attributes" in self.fields:
            self.fields["attributes"] = CustomFieldsField(
                definitions=custom_field_definitions(),
                label=capfirst(Contact._meta.get_field("attributes").verbose_name),
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        data = {f: self.service_value(f) for f in CONTACT_SERVICE_FIELDS if f in cleaned}
        try:
            normalized = normalize.contact_fields(data)
        except ValidationError as error:
            add_service_errors(self, error)
            return cleaned
        self.normalized = normalized
        for field in services.IDENTITY_FIELDS:
            if normalized.get(field):
                cleaned[field] = normalized[field]
                self.check_identity_free(field, normalized[field])
        return cleaned

    def check_identity_free(self, field: str, value: str) -> None:
        owner = selectors.contact_identity_owner(field=field, value=value, exclude_pk=self.instance.pk)
        if owner is not None:
            self.add_error(field, _("%(value)s already belongs to contact #%(id)d.") % {"value": value, "id": owner.pk})

    def service_value(self, field: str) -> Any:
        """The cleaned value in the shape the services take: tags as names, dates as text, custom fields
        merged into the stored ones (keys without a definition are kept).

        Dates go as ISO text because `normalize.date` range-checks text only.
        """
        value = self.cleaned_data.get(field)
        if field == "tags":
            return [tag.name for tag in value or []]
        if field == "attributes":
            return merged_attributes(self.instance.attributes, value or {})
        if field in normalize.DATE_FIELDS and value is not None:
            return value.isoformat()
        return value

    def service_data(self, *, change: bool) -> dict[str, Any]:
        """The normalized values to hand to contact_create (every field) or contact_update (changed fields
        only; the consent text goes along whenever given, for the consent change it documents)."""
        fields = [f for f in CONTACT_SERVICE_FIELDS if f in self.normalized]
        if change:
            fields = [f for f in fields if f in self.changed_data or (f == "consent_text" and self.normalized[f])]
        return {f: self.normalized[f] for f in fields}


class AddTagForm(forms.Form):
    name = forms.CharField(label=_("Tag name"), max_length=100, strip=True)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if "," in name or ";" in name:
            raise ValidationError(_("One tag at a time: a tag name cannot contain “,” or “;”."))
        return name


class PointsForm(forms.ModelForm):
    """The member form plus one optional ledger entry, applied through `points_adjust`."""

    points_delta = forms.IntegerField(
        label=_("Add or remove points"), required=False, help_text=_("Negative to spend points. Written to the ledger.")
    )
    points_reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("points_delta") and not (cleaned.get("points_reason") or "").strip():
            self.add_error("points_reason", _("Say why the points change."))
        return cleaned

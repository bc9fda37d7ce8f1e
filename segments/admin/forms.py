"""Forms of the segments back office: the rules field that refuses hostile JSON, the segment form, and
the "add to a static list" form."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.parsers import depth_exceeds

from ..models import Segment
from ..rules import validate


class RulesField(forms.JSONField):
    """JSON typed by a person or a script: a document nested past any sensible rule tree is a form
    error, and is shown back as typed, instead of overflowing the parser or the page."""

    def to_python(self, value):
        try:
            parsed = super().to_python(value)
        except RecursionError:
            raise ValidationError(_("The rules are nested too deeply."), code="too_deep") from None
        if depth_exceeds(parsed, settings.API_MAX_JSON_DEPTH):
            raise ValidationError(_("The rules are nested too deeply."), code="too_deep")
        return parsed

    def bound_data(self, data, initial):
        try:
            parsed = super().bound_data(data, initial)
        except RecursionError:
            return InvalidJSONInput(data)
        return InvalidJSONInput(data) if depth_exceeds(parsed, settings.API_MAX_JSON_DEPTH) else parsed


class SegmentForm(forms.ModelForm):
    rules = RulesField(
        label=gettext_lazy("Rules"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField segment-rules-json"}),
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "kind", "rules"]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("kind") == Segment.Kind.DYNAMIC:
            try:
                cleaned["rules"] = validate(cleaned.get("rules"), segment_id=self.instance.pk)
            except ValidationError as exc:
                self.add_error("rules", exc.message_dict["rules"])
        else:
            cleaned["rules"] = None
        return cleaned


class AddToListForm(forms.Form):
    segment = forms.ModelChoiceField(
        label=gettext_lazy("Static list"),
        required=False,
        queryset=Segment.objects.filter(kind=Segment.Kind.STATIC).order_by("name"),
    )
    new_name = forms.CharField(label=gettext_lazy("…or a new list named"), required=False, max_length=200)

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("segment") and not (cleaned.get("new_name") or "").strip():
            raise ValidationError(_("Choose a static list or name a new one."))
        return cleaned

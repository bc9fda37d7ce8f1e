"""Forms of the campaigns back office: template and campaign edit forms, preview contact, test send."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import Contact
from segments.models import Segment

from ..models import CAMPAIGN_EDITABLE_FIELDS, MAX_HOLDOUT_PERCENT, TEMPLATE_FIELDS, Campaign, EmailTemplate

MAX_TEST_ADDRESSES = 10
ACE = "django_ace/ace/"


class CodeEditor(forms.Textarea):
    """A textarea the Ace code editor (served from the django-ace package) takes over once its scripts
    run; without them it stays a working textarea. campaigns/editor.js wires it to the live preview."""

    class Media:
        js = [f"{ACE}ace.js", f"{ACE}mode-html.js", f"{ACE}mode-django.js", f"{ACE}ext-rtl.js", "campaigns/editor.js"]


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = TEMPLATE_FIELDS
        widgets = {
            "html": CodeEditor(
                attrs={"rows": 18, "class": "vLargeTextField campaign-code", "dir": "auto", "spellcheck": "false"}
            ),
            "text": forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField campaign-code", "dir": "auto"}),
            "subject": forms.TextInput(attrs={"class": "vTextField", "dir": "auto"}),
            "preheader": forms.TextInput(attrs={"class": "vTextField", "dir": "auto"}),
        }


class SegmentChoices(forms.ModelMultipleChoiceField):
    """Segments listed with their size as last counted (the stored count, not a count per option)."""

    def label_from_instance(self, obj: Segment) -> str:
        return _("%(name)s (%(count)s)") % {"name": obj.name, "count": f"{obj.member_count:,}"}


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = CAMPAIGN_EDITABLE_FIELDS
        field_classes = {"segments": SegmentChoices, "exclude_segments": SegmentChoices}
        widgets = {"holdout_percent": forms.NumberInput(attrs={"min": 0, "max": MAX_HOLDOUT_PERCENT})}
        help_texts = {
            "name": gettext_lazy("For you and your team; recipients never see it."),
            "template": gettext_lazy("The mail itself: its subject, text and design."),
            "segments": gettext_lazy(
                "Who gets the mail. The number beside each segment is how many people were in it when it was "
                "last counted."
            ),
            "exclude_segments": gettext_lazy(
                "People in any of these do not get the mail, even if they are in a segment above."
            ),
            "from_name": gettext_lazy("The name people see as the sender. Left blank, the brand's sender name."),
            "reply_to": gettext_lazy("Where replies go. Left blank, to the sender address."),
            "utm_source": gettext_lazy("Added to every link so your web analytics can tell this mail's visits apart."),
            "cost": gettext_lazy("What this campaign cost you, to see whether it paid off."),
            "holdout_percent": gettext_lazy(
                "A share of the recipients, picked at random, who do not get the mail: comparing what they buy "
                "with what the others buy shows what the mail really earned. 0 sends to everyone."
            ),
            "scheduled_at": gettext_lazy("Left blank, the campaign goes out when you press “Send now”."),
        }
        # The model's validators say it; these words name the field.
        error_messages = {
            "holdout_percent": {
                "min_value": gettext_lazy("The holdout cannot be negative."),
                "max_value": gettext_lazy("The holdout may be at most %(limit_value)s percent of the recipients."),
            }
        }


def find_contact(value: str) -> Contact | None:
    """A contact by id or email, erased ones excluded."""
    value = (value or "").strip()
    if not value:
        return None
    lookup = Q(email__iexact=value)
    if value.isdigit():
        lookup |= Q(pk=int(value))
    return Contact.objects.filter(lookup, erased_at__isnull=True).select_related("club").first()


class PreviewContactForm(forms.Form):
    contact = forms.CharField(
        label=gettext_lazy("Contact id or email"),
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"dir": "ltr", "placeholder": "dana@example.com"}),
    )

    def clean_contact(self) -> Contact | None:
        value = self.cleaned_data["contact"]
        if not value.strip():
            return None
        contact = find_contact(value)
        if contact is None:
            raise ValidationError(_("No contact has the id or email “%(value)s”.") % {"value": value})
        return contact


class TestSendForm(forms.Form):
    emails = forms.CharField(
        label=gettext_lazy("Send a test to"),
        max_length=2000,
        help_text=gettext_lazy("Up to 10 addresses, separated by commas or new lines."),
        widget=forms.Textarea(attrs={"rows": 2, "dir": "ltr", "class": "vLargeTextField"}),
    )
    contact = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_emails(self) -> list[str]:
        addresses = [a for a in re.split(r"[\s,;]+", self.cleaned_data["emails"]) if a]
        if not addresses:
            raise ValidationError(_("Enter at least one address."))
        if len(addresses) > MAX_TEST_ADDRESSES:
            raise ValidationError(_("At most %(n)d addresses.") % {"n": MAX_TEST_ADDRESSES})
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(_("Not an email address: %(bad)s") % {"bad": ", ".join(bad)})
        return addresses

    def clean_contact(self) -> Contact | None:
        return find_contact(self.cleaned_data["contact"])


MAX_COUNTED_SEGMENTS = 50


class BoundedSegments(forms.ModelMultipleChoiceField):
    """Segment ids, refused before any query when there are more than a form could hold."""

    def clean(self, value):
        if value and len(value) > MAX_COUNTED_SEGMENTS:
            raise ValidationError(_("At most %(n)d segments.") % {"n": MAX_COUNTED_SEGMENTS})
        return super().clean(value)


class AudienceCountForm(forms.Form):
    """The segments picked on the campaign form, not saved yet, to count before saving."""

    segments = BoundedSegments(queryset=Segment.objects.all(), required=False)
    exclude_segments = BoundedSegments(queryset=Segment.objects.all(), required=False)

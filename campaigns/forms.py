"""Forms of the public pages reached from a mail (no login)."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, MailFrequency

# The stored "" (as often as we send) needs a non-blank form value, or a radio left unticked would read as it.
ANY = "any"


class PreferencesForm(forms.Form):
    """The preference centre's one question: how often the contact wants marketing email."""

    frequency = forms.ChoiceField(
        label=_("How often would you like to hear from us?"),
        widget=forms.RadioSelect,
        choices=[(value or ANY, label) for value, label in MailFrequency.choices],
        error_messages={"required": _("Choose how often you would like to hear from us.")},
    )

    def __init__(self, *args: Any, contact: Contact, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"frequency": contact.mail_frequency or ANY})
        super().__init__(*args, **kwargs)

    def chosen_frequency(self) -> str:
        """The stored value of the choice made."""
        value = self.cleaned_data["frequency"]
        return "" if value == ANY else value

"""API keys in the admin: the raw key is shown once, right after it is created; revoke is an action."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import SCOPES, ApiKey
from .services import api_key_create, api_key_revoke, api_key_update


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=[(s, s) for s in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the key may do: read or write contacts, send purchases or events, and so on."),
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes"]


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix_display", "scopes_display", "created_at", "last_used_at", "active"]
    list_filter = [StatusFilter]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix_display", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes"]
        return ["name", "prefix_display", "scopes", "created_at", "last_used_at", "revoked_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields["scopes"].initial = obj.scopes
        return form

    def get_changeform_initial_data(self, request):
        return {"scopes": ["contacts:read"]}

    @admin.display(description=_("prefix"), ordering="prefix")
    def prefix_display(self, obj):
        return f"{obj.prefix}…"

    @admin.display(description=_("scopes"))
    def scopes_display(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(description=_("active"), boolean=True)
    def active(self, obj):
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if change:
            api_key_update(key=obj, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"])
            return
        key, raw = api_key_create(name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"])
        obj.__dict__.update({f.attname: getattr(key, f.attname) for f in key._meta.concrete_fields})
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                '{} <code style="user-select: all">{}</code>',
                _("Copy the new API key now; it is stored hashed and will not be shown again:"),
                raw,
            ),
        )

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(key=key)
        self.message_user(
            request,
            ngettext("%(n)d key revoked.", "%(n)d keys revoked.", len(keys)) % {"n": len(keys)},
            messages.SUCCESS,
        )

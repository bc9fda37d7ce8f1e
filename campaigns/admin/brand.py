"""The brand settings in the back office: one page (no list, no add, no delete), saved through the
service, with a sample mail in the brand below the form and a warning while the postal address is
missing."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminFileWidget
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from contacts.admin.base import ServiceErrorsMixin

from .. import services
from ..brand import BRAND_PK, Brand
from ..branding import brand_context, current_brand
from ..models import EmailTemplate
from ..personalization import sample_context
from ..rendering import render, template_compile
from ..views import MAIL_PAGE_CSP

COLOUR_INPUT = forms.TextInput(attrs={"type": "color", "class": "brand-colour"})


class StoredLogo:
    """The current logo as the file input shows it: its name, linked to where mail clients fetch it
    (the storage's own URL is not served)."""

    def __init__(self, name: str):
        self.name = name.rpartition("/")[2]
        self.url = reverse("campaigns:brand-logo", kwargs={"name": self.name})

    def __str__(self) -> str:
        return self.name


class LogoInput(AdminFileWidget):
    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if self.is_initial(value):
            context["widget"]["value"] = StoredLogo(value.name)
        return context


def _https_first(db_field, **kwargs):
    """Form fields as the model says; a bare host typed as the logo URL is taken as https."""
    if db_field.name == "logo_url":
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class BrandForm(forms.ModelForm):
    class Meta:
        model = Brand
        fields = services.BRAND_FIELDS
        formfield_callback = _https_first
        widgets = {
            "header_color": COLOUR_INPUT,
            "accent_color": COLOUR_INPUT,
            "background_color": COLOUR_INPUT,
            "logo": LogoInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
            "name": forms.TextInput(attrs={"class": "vTextField", "dir": "auto"}),
            "sender_name": forms.TextInput(attrs={"class": "vTextField", "dir": "auto"}),
            "postal_address": forms.Textarea(attrs={"rows": 3, "dir": "auto"}),
            "footer_he": forms.Textarea(attrs={"rows": 3, "dir": "rtl", "lang": "he"}),
            "footer_en": forms.Textarea(attrs={"rows": 3, "dir": "ltr", "lang": "en"}),
        }


def missing_postal_address(brand: Brand) -> bool:
    return not brand.postal_address.strip()


@admin.register(Brand)
class BrandAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = BrandForm
    change_form_template = "admin/campaigns/brand/change_form.html"
    fieldsets = (
        (None, {"fields": ("name", "logo", "logo_url")}),
        (_("Colours"), {"fields": (("header_color", "accent_color", "background_color"),)}),
        (_("Sender"), {"fields": ("sender_name", "sender_email")}),
        (_("Footer"), {"fields": ("postal_address", "footer_he", "footer_en")}),
    )

    class Media:
        css = {"all": ["campaigns/campaigns.css"]}

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "logo_url":
            kwargs["assume_scheme"] = "https"  # only https logos are accepted anyway
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/<str:language>/", wrap(self.preview_view), name="campaigns_brand_preview"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        """The one row is the whole list: go straight to it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        services.brand_get_or_create()
        return HttpResponseRedirect(reverse("admin:campaigns_brand_change", args=[BRAND_PK]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if object_id == str(BRAND_PK) and self.has_view_or_change_permission(request):
            services.brand_get_or_create()  # the page exists before anything was saved
        if request.method == "GET" and missing_postal_address(current_brand()):
            messages.warning(
                request,
                _("Marketing mail must carry the sender's postal address: fill in the postal address below."),
            )
        extra_context = {**(extra_context or {}), "brand_languages": ("he", "en")}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        saved = services.brand_update(**{name: getattr(obj, name) for name in services.BRAND_FIELDS})
        obj.pk = saved.pk
        obj.refresh_from_db()

    def response_change(self, request, obj):
        if "_continue" not in request.POST and "_save" in request.POST:
            self.message_user(request, _("The brand settings were saved."), messages.SUCCESS)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def preview_view(self, request, language: str):
        """A sample mail in the saved brand, for the frame under the form: sandboxed like every mail preview."""
        if not self.has_view_or_change_permission(request) or language not in ("he", "en"):
            raise PermissionDenied
        with translation.override(language):
            template = EmailTemplate(
                subject=_("Your brand in a mail"),
                html='<h1>{}</h1><p>{}</p><p><a href="{{{{ site_url }}}}">{}</a></p>'.format(
                    escape(_("Hello")),
                    escape(_("This is how the header, the colours and the footer of every mail look.")),
                    escape(_("A link in the accent colour")),
                ),
                language=language,
                layout=EmailTemplate.Layout.DEFAULT,
            )
        compiled = template_compile(template)
        context = {**sample_context(), "brand": brand_context(current_brand(), language)}
        response = HttpResponse(render(compiled, context).html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = MAIL_PAGE_CSP
        response["X-Frame-Options"] = "SAMEORIGIN"
        response["Cache-Control"] = "no-store, private"
        return response

"""Query-string filters of the partner API (django-filter)."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.widgets import BooleanWidget
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from . import normalize
from .lifecycle import lifecycle_in
from .marketing import marketable_q
from .models import (
    Activity,
    Channel,
    Contact,
    EmailStatus,
    FunnelStage,
    Lifecycle,
    LoyaltyMember,
    Product,
    Purchase,
    RfmSegment,
    Source,
    Store,
)
from .rfm import rfm_segment_q

FUNNEL_CHOICES = [(stage.name.lower(), stage.label) for stage in FunnelStage]
CONSENT_CHOICES = [
    ("email", _("Can receive email")),
    ("sms", _("Opted in to SMS")),
    ("none", _("No consent on any channel")),
]
MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """A row id: any whole number; one outside the database's range simply matches nothing. Published as
    an integer (a NumberFilter alone would be a number, and 1.5 is refused)."""

    field_class = forms.IntegerField

    def filter(self, qs: QuerySet, value: int | None) -> QuerySet:
        if value is not None and not 0 < value <= MAX_ID:
            return qs.none()
        return super().filter(qs, value)


class StrictBooleanWidget(BooleanWidget):
    """Reads true/false (or 1/0, any case) as django-filter does, but hands anything else on as it came
    instead of as "no filter", so the field can refuse it."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        raw = data.get(name)
        return raw if value is None and raw not in (None, "") else value


class StrictBooleanField(forms.NullBooleanField):
    default_error_messages = {"invalid": _("Must be a valid boolean.")}

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if isinstance(value, str):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return value


class StrictBooleanFilter(filters.BooleanFilter):
    """A yes/no filter as the schema publishes it (a boolean): `?sms_opt_in=maybe` is a 400, not a list
    silently left unfiltered. Left empty, it filters nothing."""

    field_class = StrictBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", StrictBooleanWidget)
        super().__init__(*args, **kwargs)


class ContactFilter(filters.FilterSet):
    email = filters.CharFilter(method="filter_email", help_text=_("Exact email (any case)."))
    phone = filters.CharFilter(method="filter_phone", help_text=_("Phone in any common format."))
    external_id = filters.CharFilter()
    city = filters.CharFilter(lookup_expr="iexact")
    region = filters.CharFilter(lookup_expr="iexact")
    source = filters.ChoiceFilter(choices=Source.choices)
    funnel_stage = filters.MultipleChoiceFilter(
        choices=FUNNEL_CHOICES,
        method="filter_funnel_stage",
        help_text=_("One or more of none, visitor, interested, cart, purchaser."),
    )
    lifecycle = filters.MultipleChoiceFilter(
        choices=Lifecycle.choices,
        method="filter_lifecycle",
        help_text=_("One or more of prospect, new, active, at_risk, lapsed, as of the moment of the request."),
    )
    rfm_segment = filters.MultipleChoiceFilter(
        choices=RfmSegment.choices,
        method="filter_rfm_segment",
        help_text=_("One or more named RFM segments, e.g. champions or at_risk, from the stored scores."),
    )
    email_status = filters.ChoiceFilter(choices=EmailStatus.choices)
    tag = filters.CharFilter(method="filter_tag", help_text=_("Has this tag (name, any case)."))
    updated_after = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text=_("Changed at or after this time (ISO 8601).")
    )
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    consent = filters.ChoiceFilter(
        choices=CONSENT_CHOICES,
        method="filter_consent",
        help_text=_(
            "email: opted in and not unsubscribed, bounced or complained; sms: opted in to SMS; none: neither."
        ),
    )
    email_opt_in = StrictBooleanFilter()
    sms_opt_in = StrictBooleanFilter()
    club_member = StrictBooleanFilter(field_name="club", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_email(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(email=value.strip().lower())

    def filter_phone(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            phone = normalize.phone(value)
        except ValidationError:
            return queryset.none()
        return queryset.filter(phone=phone)

    def filter_funnel_stage(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(funnel_stage__in=[FunnelStage[v.upper()].value for v in value])

    def filter_lifecycle(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        return queryset.filter(lifecycle_in(value)) if value else queryset

    def filter_rfm_segment(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        found = Q(pk__in=[])
        for segment in value:
            found |= rfm_segment_q(segment)
        return queryset.filter(found) if value else queryset

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        through = Contact.tags.through
        return queryset.filter(
            Exists(through.objects.filter(contact_id=OuterRef("pk"), tag__name__iexact=value.strip()))
        )

    def filter_consent(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "email":
            return queryset.filter(marketable_q())
        if value == "sms":
            return queryset.filter(sms_opt_in=True)
        return queryset.filter(email_opt_in=False, sms_opt_in=False)


class ClubMemberFilter(filters.FilterSet):
    contact = IdFilter(field_name="contact_id")
    card_number = filters.CharFilter()
    tier = filters.MultipleChoiceFilter(choices=LoyaltyMember.Tier.choices)
    status = filters.ChoiceFilter(choices=LoyaltyMember.Status.choices)
    joined_after = filters.IsoDateTimeFilter(field_name="joined_at", lookup_expr="gte")

    class Meta:
        model = LoyaltyMember
        fields: list[str] = []


class ProductFilter(filters.FilterSet):
    sku = filters.CharFilter()
    category = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Product
        fields: list[str] = []


class StoreFilter(filters.FilterSet):
    code = filters.CharFilter()
    city = filters.CharFilter(lookup_expr="iexact")
    region = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Store
        fields: list[str] = []


class PurchaseFilter(filters.FilterSet):
    contact = IdFilter(field_name="contact_id")
    channel = filters.ChoiceFilter(choices=Channel.choices)
    store = filters.CharFilter(field_name="store__code", help_text=_("Store code."))
    source = filters.CharFilter()
    external_id = filters.CharFilter()
    purchased_after = filters.IsoDateTimeFilter(
        field_name="purchased_at", lookup_expr="gte", help_text=_("At or after this time (ISO 8601).")
    )
    purchased_before = filters.IsoDateTimeFilter(
        field_name="purchased_at", lookup_expr="lt", help_text=_("Before this time (ISO 8601).")
    )

    class Meta:
        model = Purchase
        fields: list[str] = []


class EventFilter(filters.FilterSet):
    type = filters.MultipleChoiceFilter(choices=Activity.Type.choices)
    contact = IdFilter(field_name="contact_id")
    anonymous_id = filters.CharFilter()
    product = filters.CharFilter(field_name="product__sku", help_text=_("Product SKU."))
    occurred_after = filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", help_text=_("At or after this time (ISO 8601).")
    )
    occurred_before = filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", help_text=_("Before this time (ISO 8601).")
    )

    class Meta:
        model = Activity
        fields: list[str] = []

"""Contacts: list, read, create, change, upsert by identity, merge, erase and delete."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from crm.api import ApiViewSet, object_or_id
from crm.models import ApiKey
from crm.pagination import IdCursorPagination
from crm.permissions import ERASE_CONTACT, MERGE_CONTACT

from .. import selectors, services
from ..filters import ContactFilter
from ..lifecycle import with_lifecycle
from ..models import Contact
from ..serializers import (
    ConsentEventSerializer,
    ContactConflictSerializer,
    ContactMergeSerializer,
    ContactSerializer,
    ContactUpsertSerializer,
)
from .common import validated, written

CONTACT_EXAMPLE = OpenApiExample(
    "A contact",
    request_only=True,
    value={
        "email": "dana@example.com",
        "phone": "050-123-4567",
        "first_name": "Dana",
        "last_name": "Levi",
        "city": "Haifa",
        "birth_date": "1990-04-12",
        "source": "landing_page",
        "source_detail": "spring-sale",
        "tags": ["newsletter"],
        "attributes": {"pet": "dog"},
        "email_opt_in": True,
    },
)
CONTACT_RESPONSE_EXAMPLE = OpenApiExample(
    "Stored contact",
    response_only=True,
    value={
        "id": 42,
        "email": "dana@example.com",
        "phone": "+972501234567",
        "external_id": None,
        "first_name": "Dana",
        "last_name": "Levi",
        "gender": "unknown",
        "birth_date": "1990-04-12",
        "wedding_date": None,
        "marital_status": "unknown",
        "city": "Haifa",
        "region": "",
        "country": "IL",
        "language": "he",
        "source": "landing_page",
        "source_detail": "spring-sale",
        "signed_up_at": "2026-03-01T10:00:00+02:00",
        "tags": ["newsletter"],
        "attributes": {"pet": "dog"},
        "email_opt_in": True,
        "sms_opt_in": False,
        "funnel_stage": "none",
        "lifecycle": "prospect",
        "email_status": "active",
        "club": None,
        "purchase_count": 0,
        "total_spent": "0.00",
        "first_purchase_at": None,
        "last_purchase_at": None,
        "created_at": "2026-03-01T10:00:00+02:00",
        "updated_at": "2026-03-01T10:00:00+02:00",
        "erased_at": None,
    },
)


@extend_schema_view(
    list=extend_schema(
        summary=gettext_lazy("List contacts"),
        description=gettext_lazy(
            "Newest first, cursor-paginated (`next`/`previous` links). Filter by email, phone, city, region, source, "
            "funnel_stage, lifecycle, tag, consent, updated_after …; order with `ordering=updated_at` etc."
        ),
    ),
    retrieve=extend_schema(summary=gettext_lazy("Get a contact"), examples=[CONTACT_RESPONSE_EXAMPLE]),
    create=extend_schema(
        summary=gettext_lazy("Create a contact"),
        description=gettext_lazy(
            "Creates a new contact; an email, phone or external id already in use is a 400 naming the field "
            '(use upsert to match instead). A key without `contacts:read` gets back only `{"id": N}`.'
        ),
        examples=[CONTACT_EXAMPLE, CONTACT_RESPONSE_EXAMPLE],
        responses={201: object_or_id("Contact")},
    ),
    partial_update=extend_schema(
        summary=gettext_lazy("Change a contact"),
        description=gettext_lazy(
            "The given fields replace the stored ones; `tags` replaces the tag set; consent changes are logged. "
            'A key without `contacts:read` gets back only `{"id": N}`.'
        ),
        responses={200: object_or_id("Contact")},
        examples=[OpenApiExample("Opt out of SMS", value={"sms_opt_in": False, "city": "Tel Aviv"}, request_only=True)],
    ),
    destroy=extend_schema(
        summary=gettext_lazy("Delete a contact"),
        description=gettext_lazy(
            "Deletes the contact and its whole history. To honour an erasure request while keeping revenue "
            "figures, use `POST /contacts/{id}/erase/`."
        ),
    ),
)
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = Contact.objects.select_related("club").prefetch_related("tags")
    serializer_class = ContactSerializer
    scope_resource = "contacts"
    action_permissions = {
        "upsert": {"POST": ("contacts.add_contact", "contacts.change_contact")},
        "erase": {"POST": ("contacts.change_contact", ERASE_CONTACT)},
        "merge": {"POST": ("contacts.change_contact", MERGE_CONTACT)},
        "consent": {"GET": ("contacts.view_contact", "contacts.view_consentevent")},
    }
    filterset_class = ContactFilter
    ordering_fields = ["id", "created_at", "updated_at"]

    def get_queryset(self):
        return with_lifecycle(super().get_queryset())

    def _answer(self, contact: Contact, code: int = status.HTTP_200_OK) -> Response:
        return written(self, contact, ContactSerializer, code)

    def create(self, request: Request) -> Response:
        contact = services.contact_create(**validated(ContactSerializer, request.data))
        return self._answer(contact, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: Any = None) -> Response:
        contact = self.get_object()
        contact = services.contact_update(contact=contact, **validated(ContactSerializer, request.data, partial=True))
        return self._answer(contact)

    def destroy(self, request: Request, pk: Any = None) -> Response:
        services.contact_delete(contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=gettext_lazy("Create or update a contact by its identity"),
        description=gettext_lazy(
            "Matches on email, then phone, then external_id (then card_number). A match is updated: blank values "
            "never wipe stored ones, tags are added, attributes merged. No match creates a contact. "
            "Answers 201 when created, 200 when updated; a key without `contacts:read` gets back only "
            '`{"id": N}`, so it cannot read a stored contact by upserting its email.'
        ),
        request=ContactUpsertSerializer,
        responses={200: object_or_id("Contact"), 201: object_or_id("Contact"), 409: ContactConflictSerializer},
        examples=[
            OpenApiExample(
                "From a landing page",
                request_only=True,
                value={
                    "email": "Dana@Example.com",
                    "first_name": "Dana",
                    "source": "landing_page",
                    "source_detail": "wedding-guide",
                    "wedding_date": "2026-09-10",
                    "tags": ["wedding"],
                    "email_opt_in": True,
                },
            )
        ],
    )
    @action(detail=False, methods=["post"])
    def upsert(self, request: Request) -> Response:
        data = validated(ContactUpsertSerializer, request.data)
        try:
            contact, created = services.contact_upsert(**data)
        except services.IdentityConflict as conflict:
            return self._conflict(request, conflict)
        return self._answer(contact, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @staticmethod
    def _conflict(request: Request, conflict: services.IdentityConflict) -> Response:
        """The identities given belong to two contacts: probably one person. Name both and the call that
        merges them, so the caller can fix the data instead of guessing."""
        survivor, *duplicates = conflict.contact_ids
        url = reverse("v1:contact-merge", args=[survivor], request=request)
        return Response(
            {
                **conflict.message_dict,
                "contacts": conflict.contact_ids,
                "merge": [{"method": "POST", "url": url, "body": {"duplicate": d}} for d in duplicates],
            },
            status=status.HTTP_409_CONFLICT,
        )

    @extend_schema(
        summary=gettext_lazy("Merge a duplicate into this contact"),
        description=gettext_lazy(
            "Moves everything of the duplicate (purchases, events, consent log, club ledger, messages and their "
            "tracking, segment memberships, tags, custom fields) to this contact, fills this contact's empty "
            "fields from the duplicate, recomputes its figures and deletes the duplicate. Staff sessions need the "
            "“merge contacts” permission."
        ),
        request=ContactMergeSerializer,
        responses={200: object_or_id("Contact")},
        examples=[OpenApiExample("Merge", request_only=True, value={"duplicate": 43})],
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: Any = None) -> Response:
        if not isinstance(request.auth, ApiKey) and not request.user.has_perm(MERGE_CONTACT):
            raise PermissionDenied(_("You may not merge contacts."))
        survivor = self.get_object()
        serializer = ContactMergeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        duplicate_id = serializer.validated_data["duplicate"]
        duplicate = Contact.objects.filter(pk=duplicate_id).first()
        if duplicate is None:
            raise ValidationError(
                {"duplicate": [_("Contact %(id)s does not exist.") % {"id": duplicate_id}]}, code="does_not_exist"
            )
        merged_by = (
            f"api:{request.auth.name}" if isinstance(request.auth, ApiKey) else (f"admin:{request.user.get_username()}")
        )
        contact = services.contact_merge(target=survivor, source=duplicate, merged_by=merged_by)
        return self._answer(contact)

    @extend_schema(
        summary=gettext_lazy("Consent log of a contact"),
        description=gettext_lazy(
            "Every grant and withdrawal, latest recorded first, cursor-paginated: channel, granted, source (the door "
            "it came by, e.g. api, import, admin, campaign:12, preferences:campaign:12), the consent wording shown "
            "(`consent_text`) and, for changes made in the preference centre, the mail frequency chosen."
        ),
        request=None,
        responses={200: ConsentEventSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=IdCursorPagination, filter_backends=[])
    def consent(self, request: Request, pk: Any = None) -> Response:
        events = selectors.contact_consent_log(contact=self.get_object())
        page = self.paginate_queryset(events)
        return self.get_paginated_response(ConsentEventSerializer(page, many=True).data)

    @extend_schema(
        summary=gettext_lazy("Erase a contact's personal data"),
        description=gettext_lazy(
            "Right to erasure: name, email, phone, dates, attributes and tags go; purchases keep their totals "
            "for revenue reports; events lose URL and properties; the club card is replaced. A staff user "
            "needs the “Can erase contacts” permission."
        ),
        request=None,
        responses={200: object_or_id("Contact")},
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: Any = None) -> Response:
        contact = services.contact_erase(contact=self.get_object())
        return self._answer(contact)

"""What every audience view shares: scopes and the answer to a write."""

from typing import Any

from django.db.models import Model
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer

from crm.permissions import may_read_contacts

READ = "contacts:read"
CATALOGUE_READ = ("contacts:read", "purchases:write", "events:write")


def written(view: GenericAPIView, obj: Model, serializer_class: type[BaseSerializer], code: int) -> Response:
    """The stored object for callers who may read contacts, else only its id. It is read again through the
    view's queryset, so the answer carries the same joins and annotations as a GET."""
    if not may_read_contacts(view.request):
        return Response({"id": obj.pk}, status=code)
    return Response(serializer_class(view.get_queryset().get(pk=obj.pk)).data, status=code)


def validated(serializer_class: type[Serializer], data: Any, **kwargs: Any) -> dict:
    """The input read by its serializer (a 400 naming every bad field otherwise)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)

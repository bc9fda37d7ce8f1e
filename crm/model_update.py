"""One way to change a model instance from validated data, shared by every app's services."""

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import models
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def model_update(
    *, instance: M, fields: Iterable[str], data: Mapping[str, Any], auto_updated_at: bool = True
) -> tuple[M, bool]:
    """Set those of `fields` present in `data` that differ from the instance, then save only them.

    Many-to-many fields are set after the save, and count as a change only when their members differ.
    `updated_at` is touched when the model has one and something changed (a column or a relation), so
    a caller never writes back columns it did not mean to change (derived fields kept by other
    services stay as stored). Returns the instance and whether it changed."""
    model_fields = {field.name: field for field in instance._meta.get_fields()}
    changed: list[str] = []
    many: dict[str, Any] = {}
    for name in fields:
        if name not in data:
            continue
        field = model_fields.get(name)
        if field is None:
            raise ValueError(f"{type(instance).__name__} has no field {name!r}")
        if field.many_to_many:
            if _members(instance, name) != {getattr(item, "pk", item) for item in data[name]}:
                many[name] = data[name]
        elif getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            changed.append(name)
    if changed or many:
        if auto_updated_at and "updated_at" in model_fields and "updated_at" not in changed:
            instance.updated_at = timezone.now()  # type: ignore[attr-defined]
            changed.append("updated_at")
        instance.full_clean(
            exclude=[f for f in model_fields if f not in changed], validate_unique=False, validate_constraints=False
        )
        if changed:
            instance.save(update_fields=changed)
    for name, value in many.items():
        getattr(instance, name).set(value)
    return instance, bool(changed or many)


def _members(instance: models.Model, name: str) -> set:
    """The primary keys a saved instance's many-to-many field holds now (none before its first save)."""
    if instance.pk is None:
        return set()
    return set(getattr(instance, name).values_list("pk", flat=True))

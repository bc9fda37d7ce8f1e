"""Likely duplicates: contacts sharing a normalized key, found by GROUP BY in the database.

Kinds: the same email or phone written in different forms, the same club card written in
different forms, the same first name, last name and birth date. Erased contacts are left out.
"""

from django.core.paginator import Page, Paginator
from django.db.models import CharField, Count, Q, Value
from django.db.models.functions import Cast, Concat, Lower, Replace, Right, Trim, Upper
from django.utils.translation import gettext_lazy as _

from .models import Contact

PHONE_DIGITS = 9  # national significant number: 050-123-4567, +972501234567 and 972-50-123-4567 agree


def _strip(expression, *characters: str):
    for character in characters:
        expression = Replace(expression, Value(character), Value(""))
    return expression


KINDS = {
    "email": (_("Same email"), Q(email__isnull=False), Lower(Trim("email"))),
    "phone": (
        _("Same phone"),
        Q(phone__isnull=False),
        Right(_strip("phone", "+", "-", " ", "(", ")", "."), PHONE_DIGITS),
    ),
    "card": (_("Same club card"), Q(club__isnull=False), Upper(_strip("club__card_number", " ", "-"))),
    "name_birth": (
        _("Same name and birth date"),
        Q(birth_date__isnull=False) & ~Q(first_name="") & ~Q(last_name=""),
        Concat(
            Lower(Trim("first_name")),
            Value("|"),
            Lower(Trim("last_name")),
            Value("|"),
            Cast("birth_date", CharField()),
            output_field=CharField(),
        ),
    ),
}


def _keyed(kind: str):
    _label, condition, key = KINDS[kind]
    return Contact.objects.filter(condition, erased_at__isnull=True).annotate(dup_key=key)


def duplicate_groups(*, kind: str, page: int = 1, per_page: int = 25) -> tuple[Page, list[list[Contact]]]:
    """One page of groups (key, size), and the contacts of each group, oldest first."""
    keys = _keyed(kind).values("dup_key").annotate(size=Count("pk")).filter(size__gt=1).order_by("dup_key")
    found = Paginator(keys, per_page).get_page(page)
    wanted = [row["dup_key"] for row in found.object_list]
    members: dict[str, list[Contact]] = {key: [] for key in wanted}
    for contact in _keyed(kind).filter(dup_key__in=wanted).select_related("club").order_by("pk"):
        members[contact.dup_key].append(contact)
    return found, [members[key] for key in wanted]

"""Partner API views for the audience: contacts, club, catalogue, purchases, events and identify.

Views are thin: a serializer checks the input (applied per item to a batch, see `contacts.ingest`), a
service writes, a serializer answers. Scopes: reads need `contacts:read` (the catalogue also opens to keys that
send purchases or events); contact and club writes need `contacts:write`; purchases and the catalogue
`purchases:write`; events and identify `events:write`. A writer without `contacts:read` gets back only the
id of what it wrote, never the personal data stored with it.
"""

from typing import Any

from .catalogue import ProductViewSet, StoreViewSet
from .club import ClubMemberViewSet
from .contacts import ContactViewSet
from .ingest import EventViewSet, IdentifyViewSet, PurchaseViewSet


def register(router: Any) -> None:
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("club-members", ClubMemberViewSet, basename="club-member")
    router.register("products", ProductViewSet, basename="product")
    router.register("stores", StoreViewSet, basename="store")
    router.register("purchases", PurchaseViewSet, basename="purchase")
    router.register("events", EventViewSet, basename="event")
    router.register("identify", IdentifyViewSet, basename="identify")

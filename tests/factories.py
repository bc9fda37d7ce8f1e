import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from contacts.models import Activity, Contact, LoyaltyMember, Product, Purchase, PurchaseItem, Store


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    city = "Tel Aviv"
    region = "Tel Aviv District"
    country = "IL"
    email_opt_in = True
    signed_up_at = factory.LazyFunction(timezone.now)


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"Store {n}")
    city = "Haifa"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "general"
    price = Decimal("49.90")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoyaltyMember

    contact = factory.SubFactory(ContactFactory)
    card_number = factory.Sequence(lambda n: f"9000{n:08d}")
    tier = LoyaltyMember.Tier.BASIC


class PurchaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Purchase

    contact = factory.SubFactory(ContactFactory)
    external_id = factory.Sequence(lambda n: f"order-{n}")
    purchased_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    total = Decimal("100.00")


class PurchaseItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseItem

    purchase = factory.SubFactory(PurchaseFactory)
    product = factory.SubFactory(ProductFactory)
    unit_price = Decimal("50.00")
    quantity = 2


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    contact = factory.SubFactory(ContactFactory)
    type = Activity.Type.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.Tag"

    name = factory.Sequence(lambda n: f"tag-{n}")


class ConsentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.ConsentEvent"

    contact = factory.SubFactory(ContactFactory)
    channel = "email"
    granted = True
    source = "web_form"
    occurred_at = factory.LazyFunction(timezone.now)

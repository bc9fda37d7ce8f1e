"""Every condition key and operator, compiled to SQL, agrees with the plain-Python reference on
randomized data: missing values, time-zone edges around local midnight, 29 February, and nested
not/any/all. Runs on SQLite and on PostgreSQL (CI) alike."""

import dataclasses
import datetime as dt
import random
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from contacts import services as contact_services
from contacts.models import Activity, Contact, CustomField, LoyaltyMember, Product, Purchase, PurchaseItem
from segments import registry
from segments.conditions import shift_years
from segments.models import Segment, SegmentMembership
from segments.registry import Context
from segments.rules import compile_tree, validate
from segments.selectors import audience, rules_contacts

from .reference import Reference, load

UTC = dt.UTC
# "Now" anchors: late evening on 28 Feb of a non-leap year (local date still the 28th), just
# past local midnight into 1 March (UTC still on the 28th), a leap day, and a year-end window.
ANCHORS = [
    dt.datetime(2027, 2, 28, 21, 30, tzinfo=UTC),
    dt.datetime(2027, 2, 28, 22, 30, tzinfo=UTC),
    dt.datetime(2028, 2, 29, 10, 0, tzinfo=UTC),
    dt.datetime(2026, 12, 25, 12, 0, tzinfo=UTC),
]
CITIES = ["Haifa", " haifa", "HAIFA ", "Tel Aviv", "תל אביב", ""]
REGIONS = ["North", "north ", "Center", "", "South"]
DETAILS = ["Summer landing page", "summer LANDING page ", "Dizengoff store", ""]
SKUS = ["LENS-30", "SHAMPOO", "COFFEE", "MUG", "LENS-90"]
CATEGORIES = {"LENS-30": "Lenses", "SHAMPOO": "Hair care ", "COFFEE": "coffee", "MUG": "Home", "LENS-90": "lenses"}
REPLENISH = {"LENS-30": 30, "SHAMPOO": 45, "COFFEE": 21, "MUG": None, "LENS-90": 90}
EVENT_TYPES = [t.value for t in Activity.Type]


def _moment(rng: random.Random, now: dt.datetime, span_days: int) -> dt.datetime:
    """A time up to `span_days` before now; one in three sits within two hours of a local midnight."""
    moment = now - dt.timedelta(days=rng.randint(0, span_days), minutes=rng.randint(0, 1439))
    if rng.random() < 0.33:
        local = moment.astimezone(dt.timezone(dt.timedelta(hours=2)))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        moment = (midnight + dt.timedelta(minutes=rng.choice([-90, -1, 0, 1, 59, 119]))).astimezone(UTC)
    return min(moment, now)


def _day_near(rng: random.Random, today: dt.date, years_back: int) -> dt.date | None:
    roll = rng.random()
    if roll < 0.15:
        return None
    year = today.year - rng.randint(1, years_back)
    if roll < 0.35:
        return rng.choice([dt.date(2000, 2, 29), dt.date(1996, 2, 29), dt.date(year, 2, 28), dt.date(year, 3, 1)])
    shifted = today + dt.timedelta(days=rng.randint(-20, 40))
    try:
        return shifted.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


NOT_DATES = ["", "soon", 20240101, "2024-05-01T10:00:00", True]


def _custom_date(rng: random.Random, today: dt.date, child: bool) -> object:
    """A date custom field's stored value: missing, malformed, near an anniversary, on a child's age-band
    edge (born exactly N years ago today, or a day either side), or any day within a few years."""
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.2:
        return rng.choice(NOT_DATES)
    if roll < 0.45:
        day = _day_near(rng, today, 18) or today
    elif roll < 0.7 and child:
        day = shift_years(today, -rng.choice([1, 2, 4, 6, 13, 18])) + dt.timedelta(days=rng.choice([-1, 0, 1]))
    else:
        day = today + dt.timedelta(days=rng.randint(-400 if not child else -7000, 400))
    return day.isoformat()


def _date_attributes(rng: random.Random, today: dt.date) -> dict:
    values = {"pet_birthday": _custom_date(rng, today, child=False), "child_birth": _custom_date(rng, today, True)}
    return {key: value for key, value in values.items() if value is not None}


def build_dataset(seed: int, now: dt.datetime, size: int = 70) -> None:
    rng = random.Random(seed)
    dates_rng = random.Random(seed + 1000)  # a stream of its own, so the other columns stay as they were
    today = now.astimezone(dt.timezone(dt.timedelta(hours=2))).date()
    for key in ("pet_birthday", "child_birth"):
        CustomField.objects.create(key=key, label=key, type=CustomField.Type.DATE)
    CustomField.objects.create(key="shoe_size", label="Shoe size", type=CustomField.Type.NUMBER)
    products = {
        sku: Product.objects.create(
            sku=sku, name=sku, category=CATEGORIES[sku], replenishment_days=REPLENISH[sku], price=Decimal("10")
        )
        for sku in SKUS
    }
    tags = contact_services.tags_get_or_create(["VIP", "Pet owner", "newsletter"])
    ids = []
    for i in range(size):
        contact = Contact.objects.create(
            email=None if rng.random() < 0.1 else f"c{i}@example.com",
            city=rng.choice(CITIES),
            region=rng.choice(REGIONS),
            country=rng.choice(["IL", "il", "US", ""]),
            language=rng.choice(["he", "en", ""]),
            gender=rng.choice(["female", "male", "other", "unknown"]),
            marital_status=rng.choice(["single", "married", "divorced", "unknown"]),
            source=rng.choice(["web_form", "landing_page", "in_store", "import", ""]),
            source_detail=rng.choice(DETAILS),
            birth_date=_day_near(rng, today, 60),
            wedding_date=_day_near(rng, today, 20),
            signed_up_at=None if rng.random() < 0.1 else _moment(rng, now, 1200),
            attributes={
                **rng.choice(
                    [
                        {},
                        {"pet_type": "cat", "shoe_size": 38},
                        {"pet_type": " Dog", "shoe_size": 41.5},
                        {"pet_type": "", "shoe_size": "42"},
                        {"vip": True, "shoe_size": None},
                        {"vip": False, "pet_type": None},
                    ]
                ),
                **_date_attributes(dates_rng, today),
            },
            email_opt_in=rng.random() < 0.7,
            email_status=rng.choice(["active", "active", "active", "unsubscribed", "bounced", "complained"]),
            erased_at=now if i == 0 else None,
        )
        contact.tags.set(rng.sample(tags, rng.randint(0, 2)))
        ids.append(contact.pk)
        if rng.random() < 0.45:
            LoyaltyMember.objects.create(
                contact=contact,
                card_number=f"C{seed}-{i}",
                tier=rng.choice(["basic", "silver", "gold"]),
                status=rng.choice(["active", "active", "cancelled"]),
                points=rng.randint(0, 900),
                joined_at=_moment(rng, now, 900),
            )
        for _n in range(rng.choice([0, 0, 1, 2, 3])):
            purchase = Purchase.objects.create(
                contact=contact,
                channel=rng.choice(["online", "in_store", "app"]),
                purchased_at=_moment(rng, now, 400),
                total=Decimal(rng.choice(["0", "49.90", "120", "350.50"])),
            )
            for sku in rng.sample(SKUS, rng.randint(1, 2)):
                PurchaseItem.objects.create(
                    purchase=purchase, product=products[sku], quantity=1, unit_price=Decimal("10")
                )
        for _n in range(rng.choice([0, 1, 2, 4])):
            Activity.objects.create(
                contact=contact,
                type=rng.choice(EVENT_TYPES),
                occurred_at=_moment(rng, now, 60),
                product=products[rng.choice(SKUS)] if rng.random() < 0.5 else None,
            )
    contact_services.contacts_refresh_purchase_stats(contact_ids=ids)
    contact_services.contacts_recompute_all()  # RFM cut points and scores
    static = Segment.objects.create(name="Hand-picked", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=static, contact_id=i) for i in ids if rng.random() < 0.3]
    )
    Segment.objects.create(
        name="Haifa", kind=Segment.Kind.DYNAMIC, rules={"field": "city", "op": "eq", "value": "haifa"}
    )


# ------------------------------------------------------------------ strategies


def cond(field_name, op, value=None, **extra):
    node = {"field": field_name, "op": op, **extra}
    if value is not None:
        node["value"] = value
    return node


small_days = st.integers(0, 400)
window = st.sampled_from([0, 1, 2, 7, 30, 365, 366])


def text_condition(field_name, pool):
    values = st.sampled_from(pool)
    return st.one_of(
        st.builds(lambda v: cond(field_name, "eq", v), values),
        st.builds(lambda v: cond(field_name, "neq", v), values),
        st.builds(lambda v: cond(field_name, "in", v), st.lists(values, min_size=1, max_size=3)),
        st.builds(lambda v: cond(field_name, "not_in", v), st.lists(values, min_size=1, max_size=3)),
    )


def range_int(field_name, lo=0, hi=1000, **extra):
    ints = st.integers(lo, hi)
    return st.one_of(
        st.builds(lambda v: cond(field_name, "gte", v, **extra), ints),
        st.builds(lambda v: cond(field_name, "lte", v, **extra), ints),
        st.builds(lambda a, b: cond(field_name, "between", sorted([a, b]), **extra), ints, ints),
    )


def range_number(field_name, values):
    return st.one_of(
        st.builds(lambda v: cond(field_name, "gte", v), values),
        st.builds(lambda v: cond(field_name, "lte", v), values),
        st.builds(lambda a, b: cond(field_name, "between", sorted([a, b])), values, values),
    )


def anniversary(field_name):
    return st.one_of(
        st.just(cond(field_name, "today")),
        st.just(cond(field_name, "this_month")),
        st.builds(lambda n: cond(field_name, "in_next_days", n), window),
    )


def times(field_name, ops):
    builders = {
        "within_last_days": st.builds(lambda n: cond(field_name, "within_last_days", n), small_days),
        "more_than_days_ago": st.builds(lambda n: cond(field_name, "more_than_days_ago", n), small_days),
        "anniversary_in_next_days": st.builds(lambda n: cond(field_name, "anniversary_in_next_days", n), window),
        "before": st.builds(
            lambda d: cond(field_name, "before", d.isoformat()), st.dates(dt.date(2023, 1, 1), dt.date(2028, 12, 31))
        ),
        "after": st.builds(
            lambda d: cond(field_name, "after", d.isoformat()), st.dates(dt.date(2023, 1, 1), dt.date(2028, 12, 31))
        ),
        "never": st.just(cond(field_name, "never")),
    }
    return st.one_of(*(builders[op] for op in ops))


optional_days = st.one_of(st.none(), small_days)
optional_channel = st.one_of(st.none(), st.sampled_from(["online", "in_store", "app"]))


def with_extras(strategy):
    return st.builds(
        lambda node, days, channel: {
            **node,
            **({"days": days} if days is not None else {}),
            **({"channel": channel} if channel else {}),
        },
        strategy,
        optional_days,
        optional_channel,
    )


money = st.sampled_from([0, 1, 49.9, 50, 120, 169.9, 350.5, 500])
RFM_NAMES = [
    "champions",
    "loyal",
    "potential_loyalist",
    "new_customers",
    "promising",
    "needs_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
]
STRATEGIES = {
    "city": text_condition("city", ["haifa", "HAIFA", "tel aviv", "תל אביב", "Eilat"]),
    "region": text_condition("region", ["north", "Center", "south"]),
    "country": text_condition("country", ["il", "US", "fr"]),
    "language": text_condition("language", ["he", "EN"]),
    "gender": text_condition("gender", ["female", "male", "other", "unknown"]),
    "marital_status": text_condition("marital_status", ["single", "married", "divorced", "unknown"]),
    "source": text_condition("source", ["web_form", "landing_page", "in_store", "import"]),
    "source_detail": text_condition("source_detail", ["summer landing page", "Dizengoff store"]),
    "age": range_int("age", 0, 70),
    "birthday": anniversary("birthday"),
    "wedding_anniversary": anniversary("wedding_anniversary"),
    "signed_up": times(
        "signed_up", ["before", "after", "within_last_days", "more_than_days_ago", "anniversary_in_next_days"]
    ),
    "tag": st.builds(
        lambda op, v: cond("tag", op, v),
        st.sampled_from(["has", "has_not"]),
        st.sampled_from(["vip", " VIP", "pet owner", "newsletter", "unknown-tag"]),
    ),
    "attribute": st.one_of(
        st.builds(
            lambda op, key, v: cond("attribute", op, v, key=key),
            st.sampled_from(["eq", "neq"]),
            st.sampled_from(["pet_type", "vip", "shoe_size"]),
            st.sampled_from(["cat", "dog", "true", "false", "42", "38"]),
        ),
        st.builds(
            lambda key, v: cond("attribute", "in", v, key=key),
            st.sampled_from(["pet_type", "shoe_size"]),
            st.lists(st.sampled_from(["cat", " DOG ", "41.5", "42"]), min_size=1, max_size=2),
        ),
        st.builds(
            lambda op, v: cond("attribute", op, v, key="shoe_size"),
            st.sampled_from(["gt", "lt"]),
            st.sampled_from([0, 38, 40, 41.5, 42]),
        ),
        st.builds(
            lambda op, key: cond("attribute", op, key=key),
            st.sampled_from(["exists", "not_exists"]),
            st.sampled_from(["pet_type", "vip", "shoe_size", "missing"]),
        ),
    ),
    "email_consent": st.builds(lambda v: cond("email_consent", "is", v), st.booleans()),
    "club_member": st.builds(lambda v: cond("club_member", "is", v), st.booleans()),
    "club_tier": st.one_of(
        st.builds(lambda v: cond("club_tier", "eq", v), st.sampled_from(["basic", "silver", "gold", "platinum"])),
        st.builds(
            lambda v: cond("club_tier", "in", v),
            st.lists(st.sampled_from(["basic", "silver", "gold"]), min_size=1, max_size=2),
        ),
    ),
    "club_points": range_int("club_points", 0, 900),
    "club_joined": times("club_joined", ["within_last_days", "more_than_days_ago", "anniversary_in_next_days"]),
    "purchase_count": with_extras(
        st.one_of(
            range_int("purchase_count", 0, 4), st.builds(lambda v: cond("purchase_count", "eq", v), st.integers(0, 3))
        )
    ),
    "total_spent": with_extras(range_number("total_spent", money)),
    "average_order_value": range_number("average_order_value", money),
    "purchased_product": st.builds(
        lambda v, d: {**cond("purchased_product", "in", v), **({"days": d} if d is not None else {})},
        st.lists(st.sampled_from(SKUS), min_size=1, max_size=2),
        optional_days,
    ),
    "purchased_category": st.builds(
        lambda v, d: {**cond("purchased_category", "in", v), **({"days": d} if d is not None else {})},
        st.lists(st.sampled_from(["lenses", " Hair care", "COFFEE", "garden"]), min_size=1, max_size=2),
        optional_days,
    ),
    "last_purchase": times("last_purchase", ["within_last_days", "more_than_days_ago", "never"]),
    "first_purchase": times("first_purchase", ["within_last_days"]),
    "replenishment_due": st.builds(lambda n: cond("replenishment_due", "in_next_days", n), st.integers(0, 60)),
    "event": st.builds(
        lambda n, event, d, sku: {
            **cond("event", "count_gte", n, event=event),
            **({"days": d} if d is not None else {}),
            **({"product": sku} if sku else {}),
        },
        st.integers(0, 3),
        st.sampled_from(EVENT_TYPES),
        st.one_of(st.none(), st.integers(0, 60)),
        st.one_of(st.none(), st.sampled_from(SKUS)),
    ),
    "cart_abandoned": st.builds(lambda n: cond("cart_abandoned", "within_last_days", n), st.integers(0, 60)),
    "funnel_stage": st.one_of(
        st.builds(
            lambda op, v: cond("funnel_stage", op, v),
            st.sampled_from(["eq", "gte"]),
            st.sampled_from(["none", "visitor", "interested", "cart", "purchaser"]),
        ),
        st.builds(
            lambda v: cond("funnel_stage", "in", v),
            st.lists(st.sampled_from(["visitor", "cart", "purchaser"]), min_size=1, max_size=2),
        ),
    ),
    "lifecycle": st.one_of(
        st.builds(
            lambda v: cond("lifecycle", "eq", v), st.sampled_from(["prospect", "new", "active", "at_risk", "lapsed"])
        ),
        st.builds(
            lambda v: cond("lifecycle", "in", v),
            st.lists(st.sampled_from(["new", "active", "lapsed"]), min_size=1, max_size=2),
        ),
    ),
    "attribute_date": st.builds(
        lambda node, key: {**node, "key": key},
        st.one_of(
            times(
                "attribute_date",
                ["before", "after", "within_last_days", "more_than_days_ago", "anniversary_in_next_days"],
            ),
            st.builds(lambda n: cond("attribute_date", "in_next_days", n), st.one_of(window, st.integers(0, 366))),
        ),
        st.sampled_from(["pet_birthday", "child_birth"]),
    ),
    "child_age": st.builds(
        lambda node, key: {**node, "key": key},
        st.one_of(
            range_int("child_age", 0, 20),
            st.builds(
                lambda v: cond("child_age", "in", v),
                st.lists(
                    st.sampled_from(["baby", "toddler", "preschool", "school_age", "teen"]),
                    min_size=1,
                    max_size=3,
                    unique=True,
                ),
            ),
        ),
        st.sampled_from(["child_birth", "child_birth", "pet_birthday"]),
    ),
    **{
        key: st.one_of(range_int(key, 1, 5), st.builds(lambda v, key=key: cond(key, "eq", v), st.integers(1, 5)))
        for key in ("rfm_recency", "rfm_frequency", "rfm_monetary")
    },
    "rfm_segment": st.one_of(
        st.builds(lambda v: cond("rfm_segment", "eq", v), st.sampled_from(RFM_NAMES)),
        st.builds(lambda v: cond("rfm_segment", "in", v), st.lists(st.sampled_from(RFM_NAMES), min_size=1, max_size=3)),
    ),
}
EXTERNAL_KEYS = {"in_segment", "email_opened", "email_clicked", "email_not_opened"}


def in_segment_strategy():
    return st.builds(
        lambda name, v: {"field": "in_segment", "op": "is", "value": v, "segment": Segment.objects.get(name=name).pk},
        st.sampled_from(["Hand-picked", "Haifa"]),
        st.booleans(),
    )


def any_condition():
    return st.one_of(*STRATEGIES.values(), in_segment_strategy())


def trees():
    """Nested groups, with empty `all` / `any` groups both as leaves and anywhere inside."""
    return st.recursive(
        st.one_of(any_condition(), st.sampled_from([{"all": []}, {"any": []}])),
        lambda children: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(children, max_size=3)),
            st.builds(lambda x: {"not": x}, children),
        ),
        max_leaves=6,
    )


# ------------------------------------------------------------------ tests


def _depth(node) -> int:
    children = [node["not"]] if "not" in node else node.get("all", node.get("any", None))
    return 0 if children is None else 1 + max((_depth(child) for child in children), default=0)


def _compare(tree, now, snapshots, reference):
    """Both ways of writing the rules (per-contact probes, and each window aggregated once) give the
    reference's contacts, and so does the one the planner picks."""
    clean = validate(tree)
    expected = {s.contact.pk for s in snapshots if s.contact.erased_at is None and reference.matches(clean, s)}
    for scan in (False, True):
        ctx = dataclasses.replace(Context.current(now), scan=scan)
        compiled = set(audience().filter(compile_tree(clean, ctx)).values_list("pk", flat=True))
        assert compiled == expected, (tree, scan, sorted(compiled ^ expected))
    picked = set(rules_contacts(clean, Context.current(now)).values_list("pk", flat=True))
    assert picked == expected, (tree, sorted(picked ^ expected))


@pytest.fixture(scope="module")
def dataset(anchor, shared_rows):
    """One data set per anchor, built once for all the tests of that anchor (they only read it), so
    every key is checked against the same rows."""

    def build():
        now = ANCHORS[anchor]
        build_dataset(seed=anchor, now=now)
        snapshots = load(Contact.objects.select_related("club").prefetch_related("tags"))
        reference = Reference(now, {s.pk: s for s in Segment.objects.all()}, snapshots)
        return now, snapshots, reference

    with shared_rows(build) as built:
        yield built


def test_every_builtin_key_has_a_strategy():
    assert set(registry.conditions()) - EXTERNAL_KEYS <= set(STRATEGIES)


@pytest.mark.django_db
@pytest.mark.parametrize("anchor", range(len(ANCHORS)), scope="module")
@pytest.mark.parametrize("key", sorted(STRATEGIES))
def test_condition_matches_reference(key, dataset):
    now, snapshots, reference = dataset

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(node=STRATEGIES[key], negate=st.booleans())
    def check(node, negate):
        _compare({"not": node} if negate else node, now, snapshots, reference)

    check()


@pytest.mark.django_db
@pytest.mark.parametrize("anchor", range(len(ANCHORS)), scope="module")
def test_nested_trees_match_reference(dataset):
    now, snapshots, reference = dataset

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(tree=trees())
    def check(tree):
        assume(_depth(tree) <= django_settings.SEGMENT_RULES_MAX_DEPTH)  # deeper is refused on save
        _compare(tree, now, snapshots, reference)

    check()


@pytest.mark.django_db
@pytest.mark.parametrize("anchor", [0], scope="module")
def test_empty_all_matches_everyone_and_empty_any_no_one(dataset):
    now, snapshots, _reference = dataset
    live = {s.contact.pk for s in snapshots if s.contact.erased_at is None}
    ctx = Context.current(now)
    assert set(audience().filter(compile_tree({"all": []}, ctx)).values_list("pk", flat=True)) == live
    assert not audience().filter(compile_tree({"any": []}, ctx)).exists()
    assert set(audience().filter(compile_tree({"not": {"any": []}}, ctx)).values_list("pk", flat=True)) == live
    assert not audience().filter(compile_tree({"not": {"all": []}}, ctx)).exists()

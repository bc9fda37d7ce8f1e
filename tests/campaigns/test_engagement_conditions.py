"""The email-engagement rule keys (email_opened, email_clicked, email_not_opened), compiled to SQL,
agree with a plain-Python reading of CONTRACT.md §3 on randomized messages and tracking events —
machine opens and clicks, unsent messages, events exactly on a window's edge — alone and nested
in not/any/all together with every built-in key."""

import datetime as dt
import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign, EmailTemplate, Message, TrackingEvent
from contacts.models import Contact
from segments import registry
from segments.models import Segment
from segments.registry import Context
from segments.rules import compile_tree, validate
from segments.selectors import audience
from tests.segments.reference import Reference, load
from tests.segments.test_rules_reference import ANCHORS, STRATEGIES, build_dataset, in_segment_strategy

pytestmark = pytest.mark.django_db
CAMPAIGNS = ["Spring sale", "Club news", "Back in stock"]
STATUSES = [
    Message.Status.SENT,
    Message.Status.SENT,
    Message.Status.SENT,
    Message.Status.QUEUED,
    Message.Status.SKIPPED,
    Message.Status.FAILED,
]
REASONS = ["apple_privacy", "scanner", "too_fast", "click_before_open"]


def build_engagement(seed: int, now: dt.datetime) -> None:
    """Messages of three campaigns to most contacts, with opens and clicks of people and machines."""
    rng = random.Random(seed)
    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>")
    campaigns = [
        Campaign.objects.create(name=name, template=template, status=Campaign.Status.SENT) for name in CAMPAIGNS
    ]
    events = []
    for contact_id in Contact.objects.order_by("pk").values_list("pk", flat=True):
        for campaign in campaigns:
            if rng.random() < 0.25:
                continue
            status = rng.choice(STATUSES)
            sent_at = now - dt.timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1439))
            message = Message.objects.create(
                campaign=campaign,
                contact_id=contact_id,
                status=status,
                sent_at=sent_at if status == Message.Status.SENT else None,
            )
            if status != Message.Status.SENT:
                continue
            for _n in range(rng.choice([0, 0, 1, 2, 3])):
                kind = rng.choice([TrackingEvent.Kind.OPEN, TrackingEvent.Kind.OPEN, TrackingEvent.Kind.CLICK])
                machine = rng.random() < 0.35
                at = rng.choice(
                    [
                        sent_at + dt.timedelta(seconds=rng.randint(0, 60 * 24 * 3600)),
                        now - dt.timedelta(days=rng.choice([0, 1, 7, 30])),
                    ]
                )  # exactly on a window edge
                events.append(
                    TrackingEvent(
                        message=message,
                        campaign=campaign,
                        contact_id=contact_id,
                        kind=kind,
                        occurred_at=min(at, now),
                        is_machine=machine,
                        machine_reason=rng.choice(REASONS) if machine else "",
                    )
                )
    TrackingEvent.objects.bulk_create(events)


class EngagementReference(Reference):
    """The segments reference, taught the engagement keys from raw Message and TrackingEvent rows."""

    def __init__(self, now, segments):
        super().__init__(now, segments)
        self.events = defaultdict(list)  # contact -> [(kind, campaign, at, machine)]
        self.sent = defaultdict(set)  # contact -> campaigns with a sent message
        for event in TrackingEvent.objects.all():
            self.events[event.contact_id].append((event.kind, event.campaign_id, event.occurred_at, event.is_machine))
        for contact_id, campaign_id in Message.objects.filter(status="sent").values_list("contact_id", "campaign_id"):
            self.sent[contact_id].add(campaign_id)

    def engaged(self, kind, n, s):
        human = [(c, at) for k, c, at, machine in self.events[s.contact.pk] if k == kind and not machine]
        if n["op"] == "within_last_days":
            return any(at >= self.days_ago(n["value"]) for _c, at in human)
        return any(c == n["value"] for c, _at in human)

    def c_email_opened(self, n, s):
        return self.engaged("open", n, s)

    def c_email_clicked(self, n, s):
        return self.engaged("click", n, s)

    def c_email_not_opened(self, n, s):
        return n["value"] in self.sent[s.contact.pk] and not self.engaged("open", {"op": "campaign", **n}, s)


def campaign_ids():
    return st.sampled_from(CAMPAIGNS).map(lambda name: Campaign.objects.get(name=name).pk)


def engaged_strategy(key):
    return st.one_of(
        st.builds(
            lambda n: {"field": key, "op": "within_last_days", "value": n},
            st.sampled_from([0, 1, 2, 7, 29, 30, 31, 60, 400]),
        ),
        st.builds(lambda c: {"field": key, "op": "campaign", "value": c}, campaign_ids()),
    )


ENGAGEMENT = {
    "email_opened": engaged_strategy("email_opened"),
    "email_clicked": engaged_strategy("email_clicked"),
    "email_not_opened": st.builds(
        lambda c: {"field": "email_not_opened", "op": "campaign", "value": c}, campaign_ids()
    ),
}


def trees():
    leaves = st.one_of(*ENGAGEMENT.values(), *ENGAGEMENT.values(), *STRATEGIES.values(), in_segment_strategy())
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(children, max_size=3)),
            st.builds(lambda x: {"not": x}, children),
        ),
        max_leaves=6,
    )


def _setup(anchor):
    now = ANCHORS[anchor]
    build_dataset(seed=100 + anchor, now=now, size=50)
    build_engagement(seed=anchor, now=now)
    snapshots = load(Contact.objects.select_related("club").prefetch_related("tags"))
    return now, snapshots, EngagementReference(now, {s.pk: s for s in Segment.objects.all()})


def _compare(tree, now, snapshots, reference):
    clean = validate(tree)
    compiled = set(audience().filter(compile_tree(clean, Context.current(now))).values_list("pk", flat=True))
    expected = {s.contact.pk for s in snapshots if s.contact.erased_at is None and reference.matches(clean, s)}
    assert compiled == expected, (tree, sorted(compiled ^ expected))


def test_every_engagement_key_is_registered_with_its_operators():
    conditions = registry.conditions()
    assert (
        set(conditions["email_opened"].ops) == set(conditions["email_clicked"].ops) == {"within_last_days", "campaign"}
    )
    assert set(conditions["email_not_opened"].ops) == {"campaign"}
    catalogue = {item["field"]: item for item in registry.catalogue()}
    assert {op["op"]: op["value_type"] for op in catalogue["email_opened"]["operators"]} == {
        "within_last_days": "int",
        "campaign": "campaign",
    }


@pytest.mark.parametrize("anchor", range(len(ANCHORS)))
@pytest.mark.parametrize("key", sorted(ENGAGEMENT))
def test_engagement_condition_matches_reference(key, anchor):
    now, snapshots, reference = _setup(anchor)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(node=ENGAGEMENT[key], negate=st.booleans())
    def check(node, negate):
        _compare({"not": node} if negate else node, now, snapshots, reference)

    check()


@pytest.mark.parametrize("anchor", range(len(ANCHORS)))
def test_nested_trees_with_engagement_match_reference(anchor):
    now, snapshots, reference = _setup(anchor)

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(tree=trees())
    def check(tree):
        _compare(tree, now, snapshots, reference)

    check()


def test_the_whole_tree_is_one_query(django_assert_num_queries):
    now, _snapshots, _reference = _setup(0)
    campaign = Campaign.objects.get(name="Spring sale").pk
    tree = validate(
        {
            "any": [
                {
                    "all": [
                        {"field": "email_opened", "op": "within_last_days", "value": 30},
                        {"not": {"field": "email_clicked", "op": "campaign", "value": campaign}},
                    ]
                },
                {"field": "email_not_opened", "op": "campaign", "value": campaign},
                {"field": "city", "op": "eq", "value": "haifa"},
            ]
        }
    )
    q = compile_tree(tree, Context.current(now))
    with django_assert_num_queries(1):
        list(audience().filter(q).values_list("pk", flat=True))


def test_machine_opens_and_unsent_messages_do_not_count():
    from tests.factories import ContactFactory

    template = EmailTemplate.objects.create(name="T", subject="Hi", html="<p>Hi</p>")
    campaign = Campaign.objects.create(name="C", template=template)
    proxied, queued, human = ContactFactory(), ContactFactory(), ContactFactory()
    for contact, status in ((proxied, "sent"), (queued, "queued"), (human, "sent")):
        message = Message.objects.create(campaign=campaign, contact=contact, status=status)
        TrackingEvent.objects.create(
            message=message,
            campaign=campaign,
            contact=contact,
            kind="open",
            is_machine=contact is proxied,
            machine_reason="apple_privacy" if contact is proxied else "",
        )

    def members(rule):
        return set(audience().filter(compile_tree(validate(rule))).values_list("pk", flat=True))

    assert members({"field": "email_opened", "op": "campaign", "value": campaign.pk}) == {queued.pk, human.pk}
    assert members({"field": "email_opened", "op": "within_last_days", "value": 1}) == {queued.pk, human.pk}
    assert members({"field": "email_not_opened", "op": "campaign", "value": campaign.pk}) == {proxied.pk}


def test_an_unknown_campaign_is_a_rule_error():
    from segments.rules import RuleError

    with pytest.raises(RuleError):
        validate({"field": "email_opened", "op": "campaign", "value": 987654})

"""Every ready-made flow end to end, on simulated time, through a real SMTP server on loopback.

Each test makes a preset's draft with `preset_create`, activates it and lives through its days: contacts
come in through the services the app records them with (sign-ups, events, purchases, the club), a simulated
beat runs the periodic jobs at their local times and the engine whenever a step is due, and the work that
writes and steps leave for after their commit runs as a worker would run it. What is checked is what reached
the SMTP sink — the exact list of mails: who got which one, in which language, at what local time
(Asia/Jerusalem), so a mail sent twice or one too many fails — and who left each flow, and why.
"""

import datetime as dt
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Min
from django.test import Client
from django.utils import timezone

from campaigns.flows import tasks
from campaigns.flows.models import Enrollment, Flow, StepRun
from campaigns.flows.presets import preset_create
from campaigns.flows.services import flow_activate
from contacts import services
from contacts.models import Contact, LoyaltyMember, PointsEntry, Product
from tests.campaigns.conftest import SmtpSink

pytestmark = pytest.mark.django_db

LOCAL = ZoneInfo("Asia/Jerusalem")
HUMAN_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)
PIXEL = re.compile(r'<img src="https?://[^/"]+(/t/o/[^"]+\.gif)"')
HTML_LANG = re.compile(r'<html lang="(\w+)" dir="(\w+)"')
# Beat's daily jobs (crm/runtime/periodic.py) at their local times; the hourly lifecycle job is in Shop._beat.
DAILY_JOBS = ((dt.time(0, 5), tasks.flows_date_triggers), (dt.time(9, 0), tasks.flows_replenishment_due))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=LOCAL)


def next_local(after: dt.datetime, time: dt.time) -> dt.datetime:
    """The first moment after `after` when the local clock shows `time`; worked out here rather than by the
    app's own timing module, which is under test."""
    day = after.astimezone(LOCAL).date()
    while (moment := dt.datetime.combine(day, time, tzinfo=LOCAL)) <= after:
        day += dt.timedelta(days=1)
    return moment


def top_of_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)  # local hours too: Israel's offsets are whole hours


# ------------------------------------------------------------------ what the SMTP sink received


@dataclass(frozen=True)
class Received:
    """One mail as the SMTP sink got it; `at` is its Date header in local time, `language` and
    `direction` those of its HTML layout."""

    to: str
    at: dt.datetime
    subject: str
    language: str
    direction: str
    html: str

    @property
    def who(self) -> str:
        return self.to.split("@")[0]


def sent_at(header: str) -> dt.datetime:
    """A Date header in local time; "-0000" (UTC, the sender's zone unsaid) parses as a naive time."""
    moment = email.utils.parsedate_to_datetime(header)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(LOCAL)


def received(sink: SmtpSink) -> list[Received]:
    mails = []
    for message in sink.messages:
        html = message.get_body(("html",)).get_content()
        layout = HTML_LANG.search(html)
        assert layout is not None, html[:200]
        mails.append(
            Received(
                to=str(message["To"]),
                at=sent_at(message["Date"]),
                # A long Hebrew subject is folded right after "Subject:", which the parser keeps as a space.
                subject=str(message["Subject"]).strip(),
                language=layout.group(1),
                direction=layout.group(2),
                html=html,
            )
        )
    return sorted(mails, key=lambda mail: (mail.at, mail.to, mail.subject))


# ------------------------------------------------------------------ the shop on simulated time


class Shop:
    """The shop on simulated time: its clock, Celery beat, and the doors its data comes in by.

    Beat runs the engine and the segment-entry job every minute and the other jobs at their times. Rather
    than stepping minute by minute, the clock jumps to the next moment anything is due — a step's run_at, a
    daily job's local time, the top of the hour while a lifecycle flow is active (the hourly job has nothing
    to do otherwise) — and runs there what beat would. Segment membership follows contact changes at once
    (the periodic segment refresh only catches up), so that job is left out. Every write runs its
    after-commit hooks, and the tasks they enqueue, before it returns.
    """

    def __init__(self, traveller: time_machine.Traveller, committed: Callable[..., Any], sink: SmtpSink) -> None:
        self.traveller = traveller
        self.committed = committed  # django_capture_on_commit_callbacks
        self.sink = sink
        self.jobs_done_until = timezone.now()

    def run_until(self, end: dt.datetime) -> None:
        """Live until `end`, doing at each moment on the way what beat and its workers would."""
        self._beat()
        while (upcoming := self._next_due()) <= end:
            self.traveller.move_to(upcoming)
            self._beat()
        self.traveller.move_to(end)
        self._beat()

    def _beat(self) -> None:
        now = timezone.now()
        with self.committed(execute=True):
            for time, job in DAILY_JOBS:
                if next_local(self.jobs_done_until, time) <= now:
                    job()
            if top_of_hour(self.jobs_done_until) < top_of_hour(now):
                tasks.flows_lifecycle_by_time()
            tasks.flows_segment_entries()
            tasks.flows_tick()
        self.jobs_done_until = now

    def _next_due(self) -> dt.datetime:
        now = timezone.now()
        due = [next_local(now, time) for time, _job in DAILY_JOBS]
        waiting = Enrollment.objects.filter(state=Enrollment.State.ACTIVE, flow__status=Flow.Status.ACTIVE)
        step = waiting.aggregate(at=Min("run_at"))["at"]
        if step is not None:
            due.append(step if step > now else now + dt.timedelta(minutes=1))
        if Flow.objects.filter(status=Flow.Status.ACTIVE, trigger__type="lifecycle_changed").exists():
            due.append(top_of_hour(now) + dt.timedelta(hours=1))
        return min(due)

    def job_again(self, job: Callable[[], int]) -> None:
        """Run a periodic job once more now, as a retry or a second worker would."""
        with self.committed(execute=True):
            job()

    def activate(self, key: str) -> Flow:
        """The marketer makes the preset's draft, then activates it (two requests, as in the admin)."""
        with self.committed(execute=True):
            draft = preset_create(key=key)
        with self.committed(execute=True):
            return flow_activate(flow=draft)

    def sign_up(self, name: str, *, language: str = "he", origin: str = "web_form", **fields: Any) -> Contact:
        with self.committed(execute=True):
            return services.contact_create(
                origin=origin,
                email=f"{name}@example.com",
                first_name=name.title(),
                language=language,
                email_opt_in=True,
                **fields,
            )

    def join_club(self, contact: Contact, *, joined_at: dt.datetime | None = None, points: int = 0) -> LoyaltyMember:
        with self.committed(execute=True):
            member = services.member_create(contact=contact, joined_at=joined_at)
            if points:
                services.points_adjust(member=member, delta=points, reason="Opening balance")
        return member

    def event(self, contact: Contact, kind: str) -> None:
        with self.committed(execute=True):
            services.activity_track(
                contact=contact,
                anonymous_id=None,
                event_id=None,
                type=kind,
                occurred_at=timezone.now(),
                product=None,
                url="",
                properties={},
            )

    def buy(self, contact: Contact, *, at: dt.datetime | None = None, product: Product | None = None) -> None:
        lines = [services.PurchaseLine(product=product, quantity=1, unit_price=Decimal("80.00"))] if product else []
        with self.committed(execute=True):
            services.purchase_record(
                contact=contact,
                source="shop",
                external_id=None,
                channel="online",
                purchased_at=at or timezone.now(),
                total=Decimal("80.00"),
                currency="ILS",
                store=None,
                items=lines,
            )

    def open(self, mail: Received) -> None:
        """The contact reads the mail in a browser, which fetches its tracking pixel."""
        pixel = PIXEL.search(mail.html)
        assert pixel is not None
        with self.committed(execute=True):
            response = Client().get(pixel.group(1), HTTP_USER_AGENT=HUMAN_AGENT)
        assert response.status_code == 200

    def mails(self) -> list[Received]:
        return received(self.sink)

    def inbox(self) -> list[tuple[str, str, str, str]]:
        """(who, local time, language, subject) of every mail the sink received, in time order."""
        return [(mail.who, f"{mail.at:%Y-%m-%d %H:%M}", mail.language, mail.subject) for mail in self.mails()]


@pytest.fixture
def shop_at(smtp_settings, smtp_sink, django_capture_on_commit_callbacks) -> Iterator[Callable[[dt.datetime], Shop]]:
    """`shop_at(moment)`: the shop with its clock stopped at `moment`, its mail going to the SMTP sink."""
    smtp_settings.QUIET_HOURS = "21:00-08:00"
    smtp_settings.FREQUENCY_CAP_COUNT, smtp_settings.FREQUENCY_CAP_DAYS = 3, 7
    travels: list[time_machine.travel] = []

    def start(moment: dt.datetime) -> Shop:
        travels.append(time_machine.travel(moment, tick=False))
        return Shop(travels[-1].start(), django_capture_on_commit_callbacks, smtp_sink)

    yield start
    for travel in travels:
        travel.stop()


@pytest.fixture
def lenses(db) -> Product:
    return services.product_save(sku="LENS-30", name="Monthly lenses", price=Decimal("80.00"), replenishment_days=30)


def journeys(flow: Flow) -> dict[str, str]:
    """How each contact's enrollments in `flow` ended, oldest first: "completed", "exited: <reason>" or
    "active" (several joined by commas)."""
    outcomes: dict[str, list[str]] = {}
    enrollments = Enrollment.objects.filter(flow=flow).order_by("entered_at", "pk")
    for email_address, state, reason in enrollments.values_list("contact__email", "state", "exit_reason"):
        outcome = f"exited: {reason}" if state == Enrollment.State.EXITED else state
        outcomes.setdefault(str(email_address).split("@")[0], []).append(outcome)
    return {who: ", ".join(states) for who, states in outcomes.items()}


def points(contact: Contact) -> list[tuple[int, str]]:
    return list(PointsEntry.objects.filter(member__contact=contact).order_by("pk").values_list("delta", "reason"))


# ------------------------------------------------------------------ the ten presets


def test_welcome_greets_each_sign_up_by_source_then_shows_the_club_three_days_later(shop_at):
    shop = shop_at(local(2026, 3, 10, 9, 0))
    early = shop.sign_up("early")  # before the flow is active: not reached back for
    flow = shop.activate("welcome")
    shop.run_until(local(2026, 3, 10, 10, 0))
    shop.sign_up("dana", origin="in_store")
    shop.sign_up("eli", language="en", source="in_store")
    shop.sign_up("maya", language="en")
    shop.sign_up("old", origin="import", signed_up_at=local(2024, 5, 1, 12, 0))  # an old customer, imported
    shop.run_until(local(2026, 3, 10, 22, 30))
    shop.sign_up("noa")  # at night: the welcome waits for the quiet hours to end
    shop.run_until(local(2026, 3, 15, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-10 10:00", "he", "כיף שביקרת אצלנו בחנות!"),
        ("eli", "2026-03-10 10:00", "en", "Good to see you at the shop!"),
        ("maya", "2026-03-10 10:00", "en", "Thanks for joining!"),
        ("noa", "2026-03-11 08:00", "he", "תודה שהצטרפת!"),
        ("dana", "2026-03-13 10:00", "he", "כל מה שהמועדון נותן לך"),
        ("eli", "2026-03-13 10:00", "en", "Everything the club gives you"),
        ("maya", "2026-03-13 10:00", "en", "Everything the club gives you"),
        ("noa", "2026-03-14 08:00", "he", "כל מה שהמועדון נותן לך"),
    ]
    assert journeys(flow) == dict.fromkeys(("dana", "eli", "maya", "noa"), "completed")
    assert not Enrollment.objects.filter(contact=early).exists()


def test_birthday_gives_members_points_once_and_mails_everyone_at_0900_in_their_language(shop_at):
    shop = shop_at(local(2026, 3, 9, 20, 0))
    dana = shop.sign_up("dana", birth_date=dt.date(1990, 3, 10))
    shop.join_club(dana, points=120)
    eli = shop.sign_up("eli", language="en", birth_date=dt.date(1985, 3, 10))
    shop.sign_up("rafi", birth_date=dt.date(1990, 3, 11))
    shop.sign_up("noa", birth_date=dt.date(1990, 3, 9))
    shop.sign_up("gil")
    flow = shop.activate("birthday")

    shop.run_until(local(2026, 3, 10, 15, 0))
    shop.job_again(tasks.flows_date_triggers)
    shop.run_until(local(2026, 3, 11, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-10 09:00", "he", "יום הולדת שמח, Dana!"),
        ("eli", "2026-03-10 09:00", "en", "Happy birthday, Eli!"),
        ("rafi", "2026-03-11 09:00", "he", "יום הולדת שמח, Rafi!"),
    ]
    to_dana, to_eli, _to_rafi = shop.mails()
    assert "ועכשיו יש לך 170 נקודות" in to_dana.html and to_dana.direction == "rtl"
    assert "points" not in to_eli.html and to_eli.direction == "ltr"
    assert points(dana) == [(120, "Opening balance"), (50, "Birthday gift")]
    assert StepRun.objects.get(enrollment__contact=eli, step="0").detail == "not_a_member"
    assert journeys(flow) == {"dana": "completed", "eli": "completed", "rafi": "completed"}


def test_wedding_anniversary_sends_gift_ideas_a_week_before_at_1000(shop_at):
    shop = shop_at(local(2026, 5, 6, 12, 0))
    shop.sign_up("dana", wedding_date=dt.date(2015, 5, 15))
    shop.sign_up("eli", language="en", wedding_date=dt.date(2019, 5, 16))
    shop.sign_up("rafi", wedding_date=dt.date(2015, 5, 30))
    shop.sign_up("noa")
    flow = shop.activate("wedding_anniversary")

    shop.run_until(local(2026, 5, 10, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-05-08 10:00", "he", "יום הנישואין שלכם מתקרב"),
        ("eli", "2026-05-09 10:00", "en", "Your anniversary is coming up"),
    ]
    assert journeys(flow) == {"dana": "completed", "eli": "completed"}
    assert set(Enrollment.objects.values_list("trigger_key", flat=True)) == {"2026"}


def test_club_anniversary_gives_100_points_once_a_year_but_not_on_the_joining_day(shop_at):
    shop = shop_at(local(2026, 3, 9, 12, 0))
    dana, eli, gil = shop.sign_up("dana"), shop.sign_up("eli", language="en"), shop.sign_up("gil")
    shop.join_club(dana, joined_at=local(2025, 3, 10, 18, 30), points=40)
    shop.join_club(eli, joined_at=local(2023, 3, 10, 11, 0))
    flow = shop.activate("club_anniversary")
    shop.run_until(local(2026, 3, 10, 8, 0))
    shop.join_club(gil)  # joins on the day itself: not an anniversary

    shop.run_until(local(2026, 3, 10, 15, 0))
    shop.job_again(tasks.flows_date_triggers)
    shop.run_until(local(2026, 3, 11, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-10 09:00", "he", "עוד שנה ביחד!"),
        ("eli", "2026-03-10 09:00", "en", "Another year together!"),
    ]
    assert "ועכשיו יש לך 140 נקודות" in shop.mails()[0].html
    assert points(dana) == [(40, "Opening balance"), (100, "A year in the club")]
    assert points(eli) == [(100, "A year in the club")]
    assert points(gil) == []
    assert journeys(flow) == {"dana": "completed", "eli": "completed"}


def test_abandoned_cart_reminds_twice_unless_a_purchase_ends_it_and_starts_again_after_a_week(shop_at):
    shop = shop_at(local(2026, 3, 10, 9, 0))
    dana, eli, noa = shop.sign_up("dana"), shop.sign_up("eli", language="en"), shop.sign_up("noa", language="en")
    browsing = shop.sign_up("rafi")
    flow = shop.activate("abandoned_cart")
    shop.run_until(local(2026, 3, 10, 10, 0))
    for contact in (dana, eli, noa):
        shop.event(contact, "add_to_cart")
    shop.event(browsing, "page_view")
    shop.run_until(local(2026, 3, 10, 11, 0))
    shop.buy(eli)  # before the reminder: no mail at all
    shop.run_until(local(2026, 3, 11, 9, 0))
    shop.buy(noa)  # after the reminder, before the last call
    shop.run_until(local(2026, 3, 12, 10, 0))
    shop.event(dana, "add_to_cart")  # two days after she entered: too soon to enter again
    shop.run_until(local(2026, 3, 17, 10, 0))
    shop.event(dana, "add_to_cart")
    shop.run_until(local(2026, 3, 17, 13, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-10 12:00", "he", "שכחת משהו בעגלה?"),
        ("noa", "2026-03-10 12:00", "en", "Did you forget something?"),
        ("dana", "2026-03-11 12:00", "he", "העגלה שלך עומדת להתרוקן"),
        ("dana", "2026-03-17 12:00", "he", "שכחת משהו בעגלה?"),
    ]
    assert journeys(flow) == {"dana": "completed, active", "eli": "exited: exit_rules", "noa": "exited: exit_rules"}
    exited = Enrollment.objects.filter(flow=flow, state=Enrollment.State.EXITED)
    assert dict(exited.values_list("contact__first_name", "exited_at")) == {
        "Eli": local(2026, 3, 10, 11, 0),  # at the purchase, not when the reminder came due
        "Noa": local(2026, 3, 11, 9, 0),
    }


def test_first_purchase_suggests_complementary_products_three_days_after_a_first_purchase_only(shop_at):
    shop = shop_at(local(2026, 3, 10, 9, 0))
    dana, eli, maya = shop.sign_up("dana"), shop.sign_up("eli", language="en"), shop.sign_up("maya", language="en")
    shop.buy(eli, at=local(2025, 11, 2, 17, 0))  # a customer already
    flow = shop.activate("first_purchase")
    shop.run_until(local(2026, 3, 10, 10, 0))
    for contact in (dana, eli, maya):
        shop.buy(contact)
    shop.run_until(local(2026, 3, 11, 16, 0))
    shop.buy(dana)  # again while waiting: still one enrollment and one mail
    shop.run_until(local(2026, 3, 14, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-13 10:00", "he", "מה עוד יתאים למה שקנית"),
        ("maya", "2026-03-13 10:00", "en", "What goes well with your purchase"),
    ]
    assert journeys(flow) == {"dana": "completed", "eli": "exited: exit_step", "maya": "completed"}


def test_replenishment_reminds_five_days_before_a_product_runs_out_unless_bought_again(shop_at, lenses):
    shop = shop_at(local(2026, 3, 1, 12, 0))
    dana, eli = shop.sign_up("dana"), shop.sign_up("eli", language="en")
    noa, rafi = shop.sign_up("noa"), shop.sign_up("rafi")
    shop.buy(dana, at=local(2026, 2, 10, 12, 0), product=lenses)  # runs out on 12 March
    shop.buy(eli, at=local(2026, 2, 12, 19, 0), product=lenses)  # on 14 March
    shop.buy(noa, at=local(2026, 2, 11, 12, 0), product=lenses)  # on 13 March
    shop.buy(rafi, at=local(2026, 2, 10, 12, 0), product=lenses)
    flow = shop.activate("replenishment")
    shop.run_until(local(2026, 3, 5, 12, 0))
    shop.buy(rafi, product=lenses)  # bought again before the reminder: runs out in April now
    shop.run_until(local(2026, 3, 7, 20, 0))
    shop.buy(noa)  # something else: her lenses still run out
    shop.run_until(local(2026, 3, 10, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-07 09:00", "he", "הגיע הזמן לחדש מלאי?"),
        ("noa", "2026-03-08 09:00", "he", "הגיע הזמן לחדש מלאי?"),
        ("eli", "2026-03-09 09:00", "en", "Time to restock?"),
    ]
    # Each lists the product running out, whatever was bought last (Noa bought something else since).
    for mail in shop.mails():
        assert "Monthly lenses" in mail.html
    assert journeys(flow) == {"dana": "completed", "noa": "completed", "eli": "completed"}
    keys = dict(Enrollment.objects.filter(flow=flow).values_list("contact__first_name", "trigger_key"))
    assert keys == {"Dana": "due-2026-03-12", "Noa": "due-2026-03-13", "Eli": "due-2026-03-14"}


def test_win_back_mails_who_becomes_at_risk_then_an_offer_unless_they_buy_again(shop_at):
    shop = shop_at(local(2026, 3, 10, 9, 0))
    dana, eli, yael = shop.sign_up("dana"), shop.sign_up("eli", language="en"), shop.sign_up("yael")
    for contact, last_purchase in (
        (dana, local(2025, 12, 10, 11, 0)),  # 90 days later, 10 March 11:00, she is at risk
        (eli, local(2025, 12, 10, 14, 0)),
        (yael, local(2025, 12, 10, 23, 20)),  # at risk in the night
        (shop.sign_up("noa"), local(2025, 12, 1, 12, 0)),  # at risk already
        (shop.sign_up("rafi"), local(2026, 2, 1, 12, 0)),  # active
    ):
        shop.buy(contact, at=local(2025, 6, 1, 12, 0))
        shop.buy(contact, at=last_purchase)
    flow = shop.activate("win_back")
    shop.run_until(local(2026, 3, 15, 12, 0))
    shop.buy(eli)  # back: active again, so no offer
    shop.run_until(local(2026, 3, 25, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-10 12:00", "he", "התגעגענו אליך"),  # the hourly job after 11:00
        ("eli", "2026-03-10 15:00", "en", "We miss you"),
        ("yael", "2026-03-11 08:00", "he", "התגעגענו אליך"),
        ("dana", "2026-03-24 12:00", "he", "הטבה מיוחדת רק בשבילך"),
        ("yael", "2026-03-25 08:00", "he", "הטבה מיוחדת רק בשבילך"),
    ]
    assert journeys(flow) == {"dana": "completed", "eli": "exited: exit_rules", "yael": "completed"}


def test_did_not_open_sends_the_second_mail_only_to_those_who_did_not_open_the_first(shop_at):
    shop = shop_at(local(2026, 3, 10, 9, 0))
    dana, eli, noa = shop.sign_up("dana"), shop.sign_up("eli", language="en"), shop.sign_up("noa", language="en")
    visitor = shop.sign_up("rafi")
    flow = shop.activate("did_not_open")
    shop.run_until(local(2026, 3, 10, 10, 0))
    for contact in (dana, eli, noa):
        shop.event(contact, "product_view")  # interested: enters the flow's segment
    shop.event(visitor, "page_view")
    shop.run_until(local(2026, 3, 10, 18, 0))
    [to_dana] = [mail for mail in shop.mails() if mail.who == "dana"]
    shop.open(to_dana)
    shop.run_until(local(2026, 3, 12, 12, 0))
    shop.buy(noa)
    shop.run_until(local(2026, 3, 14, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-10 10:00", "he", "ראינו שהתעניינת"),
        ("eli", "2026-03-10 10:00", "en", "Saw something you liked?"),
        ("noa", "2026-03-10 10:00", "en", "Saw something you liked?"),
        ("eli", "2026-03-13 10:00", "en", "Eli, we saved something for you"),
    ]
    assert journeys(flow) == {"dana": "completed", "eli": "completed", "noa": "exited: exit_rules"}
    assert StepRun.objects.get(enrollment__contact=dana, step="2").outcome == StepRun.Outcome.YES


def test_review_then_referral_asks_only_those_who_reviewed_and_enrolls_once_in_60_days(shop_at):
    shop = shop_at(local(2026, 4, 13, 9, 0))
    dana, eli = shop.sign_up("dana"), shop.sign_up("eli", language="en")
    flow = shop.activate("review_referral")
    shop.run_until(local(2026, 4, 13, 10, 0))
    shop.buy(dana)
    shop.buy(eli)
    shop.run_until(local(2026, 4, 18, 12, 0))
    shop.buy(eli)  # still inside: no second enrollment
    shop.run_until(local(2026, 4, 24, 19, 0))
    shop.event(dana, "review")
    shop.run_until(local(2026, 5, 2, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-04-23 10:00", "he", "איך היה?"),
        ("eli", "2026-04-23 10:00", "en", "How was it?"),
        ("dana", "2026-04-30 10:00", "he", "תודה על הביקורת! רוצה לשתף חבר/ה?"),
    ]
    assert journeys(flow) == {"dana": "completed", "eli": "completed"}


# ------------------------------------------------------------------ the calendar


def test_29_february_is_celebrated_on_28_february_in_a_non_leap_year(shop_at):
    shop = shop_at(local(2026, 2, 26, 12, 0))
    tamar = shop.sign_up("tamar", birth_date=dt.date(2000, 2, 29))
    shop.join_club(tamar, joined_at=local(2024, 2, 29, 17, 0))
    shop.sign_up("eve", language="en", birth_date=dt.date(1990, 2, 28))
    shop.sign_up("omer", birth_date=dt.date(1990, 3, 1))
    birthday, club_year = shop.activate("birthday"), shop.activate("club_anniversary")

    shop.run_until(local(2026, 3, 2, 12, 0))

    assert shop.inbox() == [
        ("eve", "2026-02-28 09:00", "en", "Happy birthday, Eve!"),
        ("tamar", "2026-02-28 09:00", "he", "יום הולדת שמח, Tamar!"),
        ("tamar", "2026-02-28 09:00", "he", "עוד שנה ביחד!"),
        ("omer", "2026-03-01 09:00", "he", "יום הולדת שמח, Omer!"),
    ]
    assert sorted(points(tamar)) == [(50, "Birthday gift"), (100, "A year in the club")]
    assert journeys(birthday) == {"eve": "completed", "tamar": "completed", "omer": "completed"}
    assert journeys(club_year) == {"tamar": "completed"}


@pytest.mark.parametrize(
    ("days", "utc_hours"),
    [
        pytest.param((dt.date(2026, 3, 26), dt.date(2026, 3, 27), dt.date(2026, 3, 28)), [7, 6, 6], id="spring"),
        pytest.param((dt.date(2026, 10, 24), dt.date(2026, 10, 25), dt.date(2026, 10, 26)), [6, 7, 7], id="fall"),
    ],
)
def test_a_0900_date_trigger_stays_at_0900_local_across_a_dst_change(shop_at, days, utc_hours):
    """Israel's clocks go forward on Friday 27 March 2026 and back on Sunday 25 October 2026."""
    eve = days[0] - dt.timedelta(days=1)
    shop = shop_at(local(eve.year, eve.month, eve.day, 12, 0))
    names = ("before", "on", "after")
    for name, day in zip(names, days, strict=True):
        shop.sign_up(name, birth_date=day.replace(year=1990))
    shop.activate("birthday")

    shop.run_until(local(days[-1].year, days[-1].month, days[-1].day, 12, 0))

    mails = shop.mails()
    assert [(mail.who, f"{mail.at:%Y-%m-%d %H:%M}") for mail in mails] == [
        (name, f"{day} 09:00") for name, day in zip(names, days, strict=True)
    ]
    assert [mail.at.astimezone(dt.UTC).hour for mail in mails] == utc_hours


def test_a_wait_that_crosses_local_midnight_sends_on_the_next_local_day(shop_at, settings):
    settings.QUIET_HOURS = ""  # nothing held back: only the waits decide
    shop = shop_at(local(2026, 3, 10, 23, 0))
    dana = shop.sign_up("dana")
    flow = shop.activate("abandoned_cart")
    shop.run_until(local(2026, 3, 10, 23, 15))
    shop.event(dana, "add_to_cart")

    shop.run_until(local(2026, 3, 12, 12, 0))

    assert shop.inbox() == [
        ("dana", "2026-03-11 01:15", "he", "שכחת משהו בעגלה?"),
        ("dana", "2026-03-12 01:15", "he", "העגלה שלך עומדת להתרוקן"),
    ]
    assert journeys(flow) == {"dana": "completed"}


def test_quiet_hours_hold_a_mail_due_at_night_until_0800_and_the_flow_goes_on_from_then(shop_at):
    shop = shop_at(local(2026, 3, 10, 18, 0))
    evening, night, late = (shop.sign_up(name) for name in ("evening", "night", "late"))
    flow = shop.activate("abandoned_cart")
    for contact, moment in (
        (evening, local(2026, 3, 10, 18, 30)),  # reminder due 20:30, before the quiet hours
        (night, local(2026, 3, 10, 20, 30)),  # due 22:30
        (late, local(2026, 3, 10, 23, 30)),  # due 01:30, past midnight
    ):
        shop.run_until(moment)
        shop.event(contact, "add_to_cart")

    shop.run_until(local(2026, 3, 12, 12, 0))

    assert shop.inbox() == [
        ("evening", "2026-03-10 20:30", "he", "שכחת משהו בעגלה?"),
        ("late", "2026-03-11 08:00", "he", "שכחת משהו בעגלה?"),
        ("night", "2026-03-11 08:00", "he", "שכחת משהו בעגלה?"),
        ("evening", "2026-03-11 20:30", "he", "העגלה שלך עומדת להתרוקן"),
        ("late", "2026-03-12 08:00", "he", "העגלה שלך עומדת להתרוקן"),
        ("night", "2026-03-12 08:00", "he", "העגלה שלך עומדת להתרוקן"),
    ]
    assert journeys(flow) == {"evening": "completed", "night": "completed", "late": "completed"}

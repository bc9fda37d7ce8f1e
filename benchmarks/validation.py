"""Benchmark, in-process: reading bulk purchases and events, without HTTP or a server.

Prints milliseconds per 1,000 items for the validation a bulk endpoint applies to each item
(`validate_each` with the single-item serializer) and for the whole bulk path (validation, the batch's
lookups and the writes), by default on a throw-away in-memory SQLite database:

    .venv/bin/python benchmarks/validation.py [--rounds 7] [--profile purchases|events]
    .venv/bin/python benchmarks/validation.py --database-url postgres://postgres@127.0.0.1:5432/crm_bench

A PostgreSQL database given with --database-url (it must exist) is migrated and its CRM tables are
emptied first; its bulk path writes with `INSERT … SELECT FROM unnest(…)` as in production (SQLite goes
through `bulk_create`, which costs more Python). Each figure is the best of the rounds in CPU time of
this process, the steadiest estimate on a shared machine; with PostgreSQL the server's own work is not
counted. `--profile` prints the cProfile of the validation of one batch instead.
"""

import argparse
import cProfile
import os
import pstats
import random
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))  # with DEBUG off the app refuses a weak key
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")  # no broker: whatever a write enqueues runs here

CONTACTS = 2000
BATCH = 1000


def prepare() -> dict:
    """A migrated database with a catalogue, contacts and club members; the refs the batches use."""
    from django.core.management import call_command

    from contacts.models import Activity, Contact, LoyaltyMember, Product, Purchase, PurchaseItem, Store

    call_command("migrate", verbosity=0)
    for model in (PurchaseItem, Purchase, Activity, LoyaltyMember, Contact, Product, Store):
        model.objects.all().delete()
    Store.objects.bulk_create([Store(code=f"ST-{n:02d}", name=f"Store {n}") for n in range(20)])
    Product.objects.bulk_create([Product(sku=f"SKU-{n:04d}", name=f"Product {n}") for n in range(500)])
    Contact.objects.bulk_create([Contact(email=f"bench{n}@example.com") for n in range(CONTACTS)])
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    LoyaltyMember.objects.bulk_create([LoyaltyMember(contact_id=pk, card_number=f"8{pk:011d}") for pk in ids[::4]])
    return {"ids": ids, "cards": [f"8{pk:011d}" for pk in ids[::4]]}


def _buyer(rng: random.Random, refs: dict) -> dict:
    """As in bench_ingest: mostly a contact id, some a club card, the rest an email (half of them new)."""
    draw = rng.random()
    if draw < 0.6:
        return {"contact": rng.choice(refs["ids"])}
    if draw < 0.9:
        return {"card_number": rng.choice(refs["cards"])}
    return {"email": f"bench{rng.randrange(CONTACTS * 2)}@example.com"}


def purchases(rng: random.Random, refs: dict, batch: int) -> list[dict]:
    items = []
    for n in range(BATCH):
        lines: list[dict[str, Any]] = [
            {
                "sku": f"SKU-{rng.randrange(500):04d}",
                "quantity": rng.randint(1, 3),
                "unit_price": f"{rng.randint(500, 30000) / 100:.2f}",
            }
            for _ in range(3)
        ]
        items.append(
            {
                "external_id": f"bench-{batch}-{n}",
                "source": "pos",
                **_buyer(rng, refs),
                "channel": rng.choice(["online", "in_store", "app"]),
                "store": f"ST-{rng.randrange(20):02d}",
                "purchased_at": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T12:00:00+02:00",
                "total": f"{sum(float(line['unit_price']) * line['quantity'] for line in lines):.2f}",
                "currency": "ILS",
                "items": lines,
            }
        )
    return items


def events(rng: random.Random, refs: dict, batch: int) -> list[dict]:
    types = ["page_view"] * 6 + ["product_view"] * 3 + ["add_to_cart", "checkout_started", "signup"]
    items = []
    for n in range(BATCH):
        draw = rng.random()
        who = (
            {"anonymous_id": f"anon-{rng.randrange(100_000)}"}
            if draw < 0.5
            else {"contact": rng.choice(refs["ids"])}
            if draw < 0.9
            else {"email": f"bench{rng.randrange(CONTACTS)}@example.com"}
        )
        event = {
            "type": rng.choice(types),
            "event_id": f"ev-{batch}-{n}",
            **who,
            "occurred_at": "2026-10-01T12:00:00+03:00",
            "url": f"https://shop.example.com/p/{rng.randrange(500)}",
            "properties": {"n": n},
        }
        if event["type"] in ("product_view", "add_to_cart"):
            event["product"] = f"SKU-{rng.randrange(500):04d}"
        items.append(event)
    return items


def best_ms(run: Callable[[int], Any], rounds: int) -> float:
    """The fastest of `rounds` calls of `run(round)`, in milliseconds of this process's CPU time, so that
    other work on a shared machine counts as little as it can."""
    times = []
    for round_ in range(rounds):
        start = time.process_time()
        run(round_)
        times.append(time.process_time() - start)
    return min(times) * 1000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="sqlite://:memory:")
    parser.add_argument("--profile", choices=["purchases", "events"])
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    import django

    django.setup()
    from contacts.ingest import activities_track_bulk, purchases_record_bulk
    from contacts.serializers import EventInSerializer, PurchaseInSerializer, validate_each

    refs = prepare()
    rng = random.Random(args.seed)
    purchase_batches = [purchases(rng, refs, b) for b in range(args.rounds)]
    event_batches = [events(rng, refs, b) for b in range(args.rounds)]
    if args.profile:
        serializer, batch = (
            (PurchaseInSerializer, purchase_batches[0])
            if args.profile == "purchases"
            else (EventInSerializer, event_batches[0])
        )
        validate_each(serializer, batch)  # first use: lazy translations, compiled regular expressions
        with cProfile.Profile() as profile:
            validate_each(serializer, batch)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        return
    figures = {
        "purchases (3 items), validation": best_ms(
            lambda r: validate_each(PurchaseInSerializer, purchase_batches[r]), args.rounds
        ),
        "events, validation": best_ms(lambda r: validate_each(EventInSerializer, event_batches[r]), args.rounds),
        "purchases (3 items), bulk path": best_ms(
            lambda r: purchases_record_bulk(items=purchase_batches[r]), args.rounds
        ),
        "events, bulk path": best_ms(lambda r: activities_track_bulk(items=event_batches[r]), args.rounds),
    }
    print(f"CPU ms per {BATCH:,} items, best of {args.rounds} rounds (in-process, {args.database_url.split(':')[0]})")
    for name, ms in figures.items():
        print(f"  {name:<34} {ms:8.1f} ms   ({BATCH / ms * 1000:,.0f} items/s)")


if __name__ == "__main__":
    main()

"""Campaign sending benchmark: PostgreSQL, Redis, 2 Celery worker processes, a local SMTP sink.

    DATABASE_URL=postgres://…/crm_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/bench_send.py [--sizes 10000,100000]

Creates the contacts once (tagged by size), then for each size sends a campaign end to end
(start → snapshot → batches → status "sent") and prints mails/s and each worker's peak RSS.
The reference is the same sink fed by a bare smtplib loop of pre-built messages.
"""

import argparse
import asyncio
import multiprocessing
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")


# ------------------------------------------------------------------ the sink (its own process)


async def _session(reader, writer, counter) -> None:
    writer.write(b"220 sink ready\r\n")
    while line := await reader.readline():
        verb = line[:4].upper()
        if verb == b"DATA":
            writer.write(b"354 go ahead\r\n")
            while (await reader.readline()) not in (b".\r\n", b""):
                pass
            with counter.get_lock():
                counter.value += 1
            writer.write(b"250 queued\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        elif verb == b"EHLO":
            writer.write(b"250-sink\r\n250 8BITMIME\r\n")
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()
    writer.close()


def run_sink(port: int, counter) -> None:
    """A minimal SMTP server that accepts and discards every mail, counting them."""

    async def main():
        server = await asyncio.start_server(lambda r, w: _session(r, w, counter), "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------ workers

POOL = ["--pool=solo"]


def start_workers(n: int, env: dict, log: Path) -> list[subprocess.Popen]:
    command = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "crm",
        "worker",
        *POOL,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=INFO",
    ]
    workers = [
        subprocess.Popen(
            [*command, "-n", f"bench{i}-{os.getpid()}@%h"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + 60
    while log.read_text(errors="replace").count(" ready.") < n:
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start; see " + str(log))
        time.sleep(0.2)
    return workers


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(processes) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


# ------------------------------------------------------------------ data


def ensure_contacts(size: int) -> str:
    from contacts.models import Contact

    tag = f"bench-{size}"
    have = Contact.objects.filter(source_detail=tag).count()
    batch = []
    for i in range(have, size):
        batch.append(
            Contact(
                email=f"{tag}-{i}@bench.example",
                first_name=("Dana", "נועה", "")[i % 3],
                email_opt_in=True,
                source_detail=tag,
            )
        )
        if len(batch) == 10_000:
            Contact.objects.bulk_create(batch)
            batch = []
    Contact.objects.bulk_create(batch)
    return tag


def make_campaign(size: int):
    from campaigns.models import Campaign
    from campaigns.services import campaign_create, template_create
    from segments.services import segment_create

    Campaign.objects.filter(name__startswith="bench").delete()
    tag = ensure_contacts(size)
    segment = segment_create(
        name=f"bench {size}", rules={"field": "source_detail", "op": "eq", "value": tag}, refresh=False
    )
    template = template_create(
        name="bench",
        language="he",
        subject="שלום {{ contact.first_name|default:'חבר' }}, מבצע",
        html='<h1>שלום {{ contact.first_name|default:"חבר" }}</h1><p>מבצע החורף כאן.</p>'
        '<p><a href="https://shop.example.com/sale">לחנות</a> · <a href="https://shop.example.com/new">חדש</a></p>',
    )
    return campaign_create(name=f"bench {size}", template=template, from_email="club@shop.example", segments=[segment])


# ------------------------------------------------------------------ runs


def run_campaign(size: int, env: dict, log: Path) -> dict:
    from django.db import transaction

    from campaigns.models import Campaign
    from campaigns.services import campaign_start

    campaign = make_campaign(size)
    workers = start_workers(2, env, log)
    try:
        started = time.perf_counter()
        with transaction.atomic():
            campaign_start(campaign=campaign)
        while Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk) != Campaign.Status.SENT:
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        rss = [peak_rss_mb(w.pid) for w in workers]
    finally:
        stop(workers)
    sent = campaign.messages.filter(status="sent").count()
    return {"size": size, "sent": sent, "seconds": elapsed, "rate": sent / elapsed, "rss": rss}


def reference(port: int, count: int) -> float:
    """A bare smtplib loop over one connection, messages built beforehand."""
    from django.core.mail import EmailMultiAlternatives

    html = "<html dir='rtl'><body>" + "<p>שלום, מבצע החורף כאן.</p>" * 40 + "</body></html>"
    messages = []
    for i in range(count):
        mail = EmailMultiAlternatives(
            "שלום", "שלום, מבצע החורף כאן.\n" * 40, "club@shop.example", [f"ref{i}@bench.example"]
        )
        mail.attach_alternative(html, "text/html")
        messages.append((f"ref{i}@bench.example", mail.message().as_bytes(linesep="\r\n")))
    smtp = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for to, data in messages:
        smtp.sendmail("club@shop.example", [to], data)
    elapsed = time.perf_counter() - started
    smtp.quit()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--threads", type=int, default=1, help="sending threads per worker process (1: solo pool; more: thread pool)"
    )
    args = parser.parse_args()
    if args.threads > 1:
        POOL[:] = ["--pool=threads", f"--concurrency={args.threads}"]
    redis_url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL")
    if not redis_url or not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    port, counter = free_port(), multiprocessing.Value("q", 0)
    sink = multiprocessing.Process(target=run_sink, args=(port, counter), daemon=True)
    sink.start()
    os.environ.update(CELERY_BROKER_URL=redis_url, EMAIL_URL=f"smtp://127.0.0.1:{port}", LOG_LEVEL="WARNING")
    env = {**os.environ, "CAMPAIGN_SEND_CONCURRENCY": str(2 * args.threads), "CAMPAIGN_SEND_RATE": "0"}

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    log = Path("/tmp") / f"bench_send_workers_{os.getpid()}.log"
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            result = run_campaign(size, env, log)
            print(
                f"{result['size']:>7} recipients: {result['sent']} sent in {result['seconds']:.1f} s = "
                f"{result['rate']:.0f} mails/s; worker peak RSS {', '.join(f'{r:.0f}' for r in result['rss'])} MB"
            )
        ref = reference(port, 20_000)
        print(f"reference: bare smtplib loop, pre-built messages, one connection: {ref:.0f} mails/s")
        print(f"campaign / reference: {result['rate'] / ref:.2f}")
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()

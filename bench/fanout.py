"""Alert fan-out benchmark: 1,000,000 subscribers across Honduras on PostgreSQL, an alert over
the Tegucigalpa–Comayagüela metro area, time from approval until every outbox row exists.

    .venv/bin/python bench/fanout.py                  # 3 runs (loads the subscribers once)
    .venv/bin/python bench/fanout.py --runs 1 --subscribers 200000

Subscribers: each chooses a populated place of the gazetteer with a probability proportional
to its population (a town's circle sized by its population, as `ALERTAS <lugar>` makes it);
one in twenty draws their own circle (0.5–5 km) near a place instead, and one in ten has a
second area. One in a hundred has opted out. Scratch database: sereno_fanout_bench (kept
between runs; --reload rebuilds it). Each run publishes a new alert through the services
(drafted by one moderator, approved by another), then runs the fan-out the worker would run,
and deletes the alert's rows afterwards. Target (issue 5 §5): < 15 s.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_URL = "postgres://postgres@127.0.0.1:5432/sereno_fanout_bench"
# The metro area: Distrito Central's urban part, Tegucigalpa and Comayagüela.
METRO = {
    "type": "Polygon",
    "coordinates": [
        [
            [-87.30, 14.02],
            [-87.12, 14.02],
            [-87.10, 14.08],
            [-87.14, 14.16],
            [-87.26, 14.16],
            [-87.31, 14.10],
            [-87.30, 14.02],
        ]
    ],
}


def setup(url: str) -> None:
    from intake import ensure_database  # bench/ is on the path of a script run from it

    ensure_database(url)
    os.environ["SERENO_DATABASE_URL"] = url
    os.environ.setdefault("SERENO_DATA_DIR", str(ROOT / "var" / "fanout_bench"))
    os.environ.setdefault("SERENO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sereno.settings")
    os.environ["SERENO_QUEUE_IMMEDIATE"] = "1"  # the fan-out task runs when approval commits
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(count: int, seed: int = 7) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from sereno.geo import gazetteer, zones
    from sereno.messaging.models import Channel
    from sereno.subscriptions.models import Subscription

    rng = random.Random(seed)
    started = time.monotonic()
    sms = Channel.objects.filter(kind="kannel").first() or Channel.objects.create(
        kind="kannel", name="SMS", address="2222", enabled=True
    )
    places = [p for p in gazetteer.places() if p.population > 0]
    weights = [p.population for p in places]
    place_zone = {p: zones.zone_for_place(p).pk for p in places}
    print(f"  {len(places)} place zones ({time.monotonic() - started:.0f} s)", flush=True)

    def drawn_zone() -> int:
        p = rng.choices(places, weights)[0]
        return zones.zone_for_circle(
            p.latitude + rng.uniform(-0.05, 0.05),
            p.longitude + rng.uniform(-0.05, 0.05),
            rng.choice([0.5, 1, 2, 3, 5]),
        ).pk

    drawn = [drawn_zone() for _ in range(count // 100)]  # shared by about 5 people each
    print(f"  {len(drawn)} drawn zones ({time.monotonic() - started:.0f} s)", flush=True)

    def area() -> int:
        if rng.random() < 0.05:
            return rng.choice(drawn)
        return place_zone[rng.choices(places, weights)[0]]

    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM messaging_contact")
        first = cursor.fetchone()[0] + 1
    step = 50_000
    for start in range(0, count, step):
        n = min(step, count - start)
        with transaction.atomic():
            with connection.cursor() as cursor:
                with cursor.copy(
                    "COPY messaging_contact (id, scheme, address_hash, address_encrypted, "
                    "language, last_channel_id, opted_out_at, created_at) FROM STDIN"
                ) as copy:
                    for i in range(start, start + n):
                        copy.write_row(
                            (
                                first + i,
                                "tel",
                                f"bench-{first + i}",
                                rng.randbytes(72),  # a sealed E.164 number is about this long
                                "en" if rng.random() < 0.05 else "es",
                                sms.pk,
                                now if rng.random() < 0.01 else None,
                                now,
                            )
                        )
                with cursor.copy(
                    "COPY subscriptions_subscription (contact_id, channel_id, zone_id, language, "
                    "status, source, confirmation_hash, confirmation_attempts, created_at, "
                    "confirmed_at) FROM STDIN"
                ) as copy:
                    for i in range(start, start + n):
                        own = {area()}
                        if rng.random() < 0.1:
                            own.add(area())
                        for zone_id in own:
                            copy.write_row(
                                (first + i, sms.pk, zone_id, "es", "active", "message", "", 0,
                                 now, now)
                            )  # fmt: skip
        print(f"  {start + n:,} subscribers ({time.monotonic() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('messaging_contact', 'id'), "
            "(SELECT max(id) FROM messaging_contact))"
        )
        cursor.execute("VACUUM ANALYZE")
    print(f"loaded {Subscription.objects.count():,} subscriptions in "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip


def publish(run: int):
    """A metro-area alert drafted and submitted by one moderator, for another to approve."""
    from datetime import timedelta

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from sereno.accounts.models import User
    from sereno.alerts import services
    from sereno.alerts.models import Alert
    from sereno.geo import zones

    people = []
    for name in ("bench-author", "bench-approver"):
        user, _ = User.objects.get_or_create(username=name)
        user.groups.add(Group.objects.get(name="moderator"))
        people.append(User.objects.get(pk=user.pk))  # fresh permission cache
    author, approver = people
    now = timezone.now()
    alert = services.alert_draft(
        by=author,
        zones=[zones.zone_for_polygon(METRO, label="Tegucigalpa–Comayagüela")],
        event_es="Balacera",
        urgency=Alert.Urgency.IMMEDIATE,
        severity=Alert.Severity.SEVERE,
        certainty=Alert.Certainty.OBSERVED,
        headline_es=f"Balacera en Tegucigalpa y Comayagüela (prueba {run})",
        headline_en=f"Shooting in Tegucigalpa and Comayagüela (test {run})",
        instruction_es="Evite la zona y resguárdese.",
        instruction_en="Avoid the area and shelter.",
        area_desc_es="Tegucigalpa y Comayagüela",
        effective=now,
        expires=now + timedelta(hours=6),
    )
    return services.alert_submit(alert=alert, by=author), approver


def approve(alert, approver) -> None:
    """The approval as the staff page does it; with the queue immediate (set in setup) the
    fan-out task runs as soon as the approval commits, as a worker would pick it up."""
    from sereno.alerts import services

    services.alert_approve(alert=alert, by=approver)


def clean(alert) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "WITH gone AS (DELETE FROM alerts_alertrecipient WHERE alert_id = %s "
            "RETURNING message_id) DELETE FROM messaging_outboundmessage "
            "WHERE id IN (SELECT message_id FROM gone)",
            [alert.pk],
        )
        cursor.execute("DELETE FROM alerts_alert_zones WHERE alert_id = %s", [alert.pk])
        cursor.execute("UPDATE alerts_alert SET state = 'superseded' WHERE id = %s", [alert.pk])
        cursor.execute("VACUUM ANALYZE messaging_outboundmessage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reload", action="store_true", help="drop and load the subscribers")
    parser.add_argument("--database-url", default=PG_URL)
    args = parser.parse_args()
    setup(args.database_url)

    from sereno.alerts import fanout
    from sereno.messaging.models import Contact
    from sereno.subscriptions.models import Subscription

    if args.reload:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE subscriptions_subscription, messaging_contact CASCADE")
    have = Contact.objects.count()
    if have < args.subscribers:
        print(f"loading {args.subscribers - have:,} subscribers (once)")
        load(args.subscribers - have)
    contacts = Contact.objects.count()
    print(
        f"{contacts:,} subscribers, {Subscription.objects.count():,} subscriptions, "
        f"{Subscription.objects.values('zone').distinct().count():,} distinct areas"
    )
    times = []
    for run in range(1, args.runs + 1):
        alert, approver = publish(run)
        started = time.monotonic()
        approve(alert, approver)
        seconds = time.monotonic() - started
        alert.refresh_from_db()
        assert alert.fanout == alert.Fanout.DONE, "the fan-out did not run"
        result = fanout.Result(alert.recipients, alert.fanout_parts.count(), seconds)
        times.append(seconds)
        print(
            f"run {run}: {result.recipients:,} recipients in {result.batches} parts of batches of "
            f"{fanout.BATCH:,}, approval → "
            f"every outbox row {seconds:.2f} s ({result.recipients / seconds:,.0f} rows/s)",
            flush=True,
        )
        clean(alert)
    print(f"median {statistics.median(times):.2f} s over {len(times)} runs (target < 15 s)")


if __name__ == "__main__":
    main()

"""CPU and queries per SMS on each step of Sereno's side, in-process on PostgreSQL.

    .venv/bin/python bench/sms_cpu.py                 # 300 messages per step
    .venv/bin/python bench/sms_cpu.py --messages 1000

Complements bench/sms.py (rates through a real Kannel, where the machine's load moves every
figure): CPU time (time.process_time, this process only) is far steadier under load. Steps:
- webhook: `POST /hooks/kannel/<uuid>/` as smsbox sends it, through Django's whole handler and
  middleware (test client), a new number each time (the contact is created) and a known one;
- routing: each stored message opens a conversation and queues its first question, by the
  batch router (`inbound_route_pending`) and by the per-contact path (`inbound_route_contact`);
- delivery report: `GET /hooks/kannel/<uuid>/status/` for events 8 then 1 (Kannel's two).
Database: its own (`sereno_bench_sms_cpu`, recreated), PostgreSQL by default; Redis for the
router's flag when --redis-url is given.
"""

import argparse
import base64
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-cpu-secret"  # noqa: S105 (a local benchmark's)
TEXT = "Hubo una balacera en la colonia, ¿qué hacemos?"


def setup(database_url: str, redis_url: str) -> None:
    from tests.messaging.kannel.deployment import Deployment

    work = ROOT / "var" / "bench-sms-cpu"
    Deployment(work, database_url=database_url, redis_url=redis_url or None).prepare()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="sereno.settings", SERENO_DATABASE_URL=database_url,
        SERENO_DATA_DIR=str(work / "data"), SERENO_LOG_LEVEL="WARNING",
    )  # fmt: skip
    if redis_url:
        os.environ["SERENO_REDIS_URL"] = redis_url
    import django

    django.setup()
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False  # as in production: the webhook only stores


def measure(step, n: int) -> tuple[float, float]:
    """(ms of CPU, queries) per call of step(i) over n calls."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    started = time.process_time()
    with CaptureQueriesContext(connection) as queries:
        for i in range(n):
            step(i)
    return (time.process_time() - started) * 1000 / n, len(queries) / n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/sereno_bench_sms_cpu"
    )
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    setup(args.database_url, args.redis_url)

    from django.test import Client
    from django.utils import timezone

    from sereno.messaging import services
    from sereno.messaging.contacts import contact_for
    from sereno.messaging.models import Channel, InboundMessage, OutboundMessage

    channel = Channel(kind="kannel", name="Kannel", address="1234", enabled=True)
    channel.set_config({"sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms", "username": "u",
                        "password": "p", "secret": SECRET,
                        "callback_url": "http://127.0.0.1:9"})  # fmt: skip
    channel.save()
    client = Client(HTTP_HOST="127.0.0.1")
    auth = "Basic " + base64.b64encode(f"kannel:{SECRET}".encode()).decode()
    n = args.messages

    def webhook(prefix: str, *, known: bool = False):
        def step(i: int) -> None:
            number = "+50499000001" if known else f"+504{prefix}{i:07d}"
            response = client.post(
                f"/hooks/kannel/{channel.uuid}/?id={prefix}-{i}&time=1795921376",
                data=TEXT.encode(), content_type="text/plain; charset=utf-8",
                HTTP_AUTHORIZATION=auth, HTTP_X_KANNEL_FROM=number,
            )  # fmt: skip
            assert response.status_code == 200, response.status_code

        return step

    webhook("0", known=True)(0)  # warm-up: imports, the channel cache
    InboundMessage.objects.update(status="handled")
    print(f"{n} messages per step, PostgreSQL, CPU of this process only")
    report("webhook, new number", *measure(webhook("7"), n))
    report("webhook, known number", *measure(webhook("6", known=True), n))
    # The known number's messages are not routed below (they would answer one conversation).
    InboundMessage.objects.filter(external_id__startswith="6-").update(status="handled")

    def batches(_i: int) -> None:
        while services.inbound_route_pending():
            pass

    if hasattr(services, "inbound_route_pending"):  # (absent before the batch router)
        cpu, queries = measure(batches, 1)
        report("routing, batch router", cpu / n, queries / n)
    else:
        InboundMessage.objects.filter(status="pending").update(status="handled")
    webhook("8")(0)
    for i in range(1, n):
        webhook("8")(i)
    pending = list(
        InboundMessage.objects.filter(status="pending").values_list("contact_id", flat=True)
    )
    report("routing, one contact at a time", *measure(
        lambda i: services.inbound_route_contact(contact_id=pending[i]), len(pending)
    ))  # fmt: skip

    contact = contact_for(scheme="tel", raw="+50499000002", channel=channel)
    now = timezone.now()
    rows = OutboundMessage.objects.bulk_create([
        OutboundMessage(channel=channel, contact=contact, cause="alert", text="x",
                        encoding="gsm7", segments=1, next_attempt_at=now, created_at=now,
                        status="sent") for _ in range(n)
    ])  # fmt: skip

    def dlr(i: int) -> None:
        row, event = rows[i // 2], (8, 1)[i % 2]
        response = client.get(
            f"/hooks/kannel/{channel.uuid}/status/?id={row.uuid}&event={event}",
            HTTP_AUTHORIZATION=auth,
        )
        assert response.status_code == 200

    report("delivery report", *measure(dlr, 2 * n))
    return 0


def report(label: str, cpu_ms: float, queries: float) -> None:
    print(f"{label:<34} {cpu_ms:6.2f} ms CPU  {queries:5.1f} queries per message")


if __name__ == "__main__":
    sys.exit(main())

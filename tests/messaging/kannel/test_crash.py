"""Crash safety through a real Kannel, with real processes killed by SIGKILL.

- Outbound: `sereno sender` is killed in the middle of sending 10,000 messages and started
  again: every message reaches the phones; duplicates are at most the rows that were in
  flight (claimed, not yet recorded) at the kill.
- Inbound: gunicorn (every worker) is killed while the phones send; smsbox retries
  (`http-request-retry`) and every message is stored exactly once.

Delivery reports are off here (`dlr_mask` 0): with them Kannel does about twice the work and
20,000 more requests would reach gunicorn during the test; they are tested in test_gateway.py
and test_conversation_kannel.py.

Sereno runs here as in production (gunicorn, `sereno sender`) on a database of its own:
a SQLite file, or a PostgreSQL database next to the suite's when SERENO_DATABASE_URL is set.
"""

import collections
import signal
import time
import uuid

import pytest

from tests.messaging.kannel.deployment import Deployment, own_database_url
from tests.messaging.kannel.harness import Gateway, free_port, wait_until

# django_db: the suite's autouse fixtures clear the cache (a table on SQLite).
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

OUTBOUND = 10_000
INBOUND = 600
PHONES = 100
CHANNEL_UUID = uuid.UUID("0c8d7c5a-3f7e-4d7e-9a59-8d7c2f1b9e01")
SECRET = "crash-test-secret-4Fq9"
SENDSMS_PASSWORD = "crash-sendsms-password"  # noqa: S105


@pytest.fixture
def stack(kannel_installed, tmp_path):
    workdir = tmp_path
    sereno = Deployment(
        workdir / "sereno",
        database_url=own_database_url("kannel_crash"),
        # A dead sender's rows come back after 8 s (production: 60 s).
        env={"SERENO_SENDER_LEASE_SECONDS": "8", "SERENO_SENDER_POLL_MS": "100"},
    )
    sereno.prepare()
    port = free_port()
    hook = f"http://kannel:{SECRET}@127.0.0.1:{port}/hooks/kannel/{CHANNEL_UUID}/?id=%I&time=%T"
    gateway = Gateway(
        workdir / "kannel", service_url=hook, password=SENDSMS_PASSWORD, verbosity=2,
        # Long enough to ride out a web server restart.
        http_retries=30, http_retry_delay=1,
    )  # fmt: skip
    sereno.python(f"""
from sereno.messaging.models import Channel
channel = Channel(uuid="{CHANNEL_UUID}", kind="kannel", name="Kannel", address="1234",
                  enabled=True, rate_per_second=100000, burst=1000)
channel.set_config({{"sendsms_url": "{gateway.sendsms_url}", "username": "sereno",
                    "password": "{SENDSMS_PASSWORD}", "secret": "{SECRET}",
                    "callback_url": "http://127.0.0.1:{port}", "dlr_mask": "0"}})
channel.save()
""")
    sereno.start_web(port)
    gateway.start()
    yield sereno, gateway, port
    gateway.stop()
    sereno.stop()
    sereno.drop()


def report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[kannel crash] {text}")


def test_sender_killed_mid_send_loses_nothing(stack, capsys):
    sereno, gateway, _port = stack
    sereno.python(f"""
from django.utils import timezone
from sereno.messaging.contacts import contact_for
from sereno.messaging.models import Channel, OutboundMessage
channel = Channel.objects.get(uuid="{CHANNEL_UUID}")
contacts = [contact_for(scheme="tel", raw=f"+5049{{i:07d}}", channel=channel)
            for i in range({PHONES})]
now = timezone.now()
OutboundMessage.objects.bulk_create(
    [OutboundMessage(channel=channel, contact=contacts[i % {PHONES}], cause="alert",
                     text=f"Alerta {{i:05d}}: corte de ruta en la CA-5, señora", encoding="gsm7",
                     segments=1, next_attempt_at=now, created_at=now)
     for i in range({OUTBOUND})], batch_size=1000)
""")
    phone = gateway.phone
    before = len(phone.received())

    def arrived() -> int:
        return len(phone.received()) - before

    started = time.monotonic()
    sender = sereno.start_sender("--threads", "16")
    wait_until(lambda: arrived() >= OUTBOUND // 3, timeout=60, what="a third of the messages")
    sereno.kill(sender)  # SIGKILL, mid-send
    at_kill = arrived()
    in_flight = sereno.scalar(
        "SELECT count(*) FROM messaging_outboundmessage WHERE status = 'sending'"
    )
    time.sleep(1.5)  # what Kannel had accepted before the kill reaches the phones
    restarted = sereno.start_sender("--threads", "16")
    wait_until(
        lambda: len({m.text for m in phone.received()[before:]}) >= OUTBOUND,
        timeout=120, interval=0.5, what="every message on the phones",
    )  # fmt: skip
    seconds = time.monotonic() - started
    # Rows that were in flight at the kill stay "sending" until their lease ends and the new
    # sender takes them over (and sends them again: the duplicates). Their messages may all
    # have reached the phones already, so wait for the outbox itself to be done.
    wait_until(
        lambda: sereno.scalar(
            "SELECT count(*) FROM messaging_outboundmessage WHERE status IN ('queued', 'sending')"
        ) == 0,
        timeout=60, interval=0.5, what="the rows in flight at the kill taken over",
    )  # fmt: skip
    time.sleep(1.5)  # their second sending reaches the phones
    texts = collections.Counter(m.text for m in phone.received()[before:])
    duplicates = sum(texts.values()) - len(texts)
    report(
        capsys,
        f"outbound: {OUTBOUND} messages, sender SIGKILLed after {at_kill} had arrived with "
        f"{in_flight} rows in flight; all {len(texts)} arrived in {seconds:.1f} s; "
        f"{duplicates} duplicates",
    )
    assert len(texts) == OUTBOUND
    assert all(text.startswith("Alerta ") for text in texts)
    assert duplicates <= in_flight
    sereno.kill(restarted, signal.SIGTERM)


def test_web_killed_during_inbound_stores_each_message_once(stack, capsys):
    sereno, gateway, port = stack

    def stored() -> int:
        return sereno.scalar("SELECT count(*) FROM messaging_inboundmessage")

    first = stored()
    phone = gateway.phone
    before = len(phone.received())
    lines = [
        phone.line(f"+5048{i % PHONES:07d}", "1234", f"Reporte {i:05d}: balacera en la colonia")
        for i in range(INBOUND)
    ]
    started = time.monotonic()
    phone.send_lines(lines)
    wait_until(lambda: stored() - first >= INBOUND // 4, timeout=60, what="a quarter stored")
    web = next(p for p in sereno.processes if p.args[1:3] == ["-m", "gunicorn"])
    sereno.kill(web)  # SIGKILL to master and workers alike, requests in flight
    at_kill = stored() - first
    sereno.processes.remove(web)
    time.sleep(1.0)
    sereno.start_web(port)
    wait_until(lambda: stored() - first >= INBOUND, timeout=120, interval=0.5,
               what=f"{INBOUND} stored messages")  # fmt: skip
    seconds = time.monotonic() - started
    time.sleep(2.0)  # any retry still queued in smsbox arrives now
    rows = sereno.sql(
        "SELECT text, count(*) FROM messaging_inboundmessage WHERE text LIKE ? GROUP BY text",
        ("Reporte %",),
    )
    report(
        capsys,
        f"inbound: {INBOUND} messages, gunicorn SIGKILLed after {at_kill} were stored; "
        f"{len(rows)} distinct stored in {seconds:.1f} s, "
        f"max copies of one message {max(n for _, n in rows)}",
    )
    assert len(rows) == INBOUND
    assert all(n == 1 for _, n in rows)
    # Kannel never gave up on a message (it would tell the phone).
    assert not [m for m in phone.received()[before:] if m.text.startswith("KANNEL:")]

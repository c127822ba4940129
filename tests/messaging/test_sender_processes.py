"""Three `sereno sender` processes on one channel through a real Kannel, stopped with SIGTERM.

While both live they never send the same row; SIGTERM lets each finish what it has in flight
and give back the rest; started again, one sender delivers what is left. So a clean stop makes
no duplicate at all (a SIGKILL's duplicates are measured in kannel/test_crash.py).

Sereno runs as in production on a database of its own (a SQLite file, or a PostgreSQL
database next to the suite's when SERENO_DATABASE_URL is set).
"""

import collections
import signal
import time
import uuid

import pytest

from tests.messaging.kannel.deployment import Deployment, own_database_url
from tests.messaging.kannel.harness import Gateway, available, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db]  # django_db: the cache table

MESSAGES = 3000
PHONES = 50
CHANNEL_UUID = uuid.UUID("8f0e4c1a-6b2d-4f3e-9a7c-5d1b2e3f4a60")
SENDSMS_PASSWORD = "sigterm-sendsms-password"  # noqa: S105


@pytest.fixture
def stack(tmp_path):
    if not available():
        pytest.skip("Kannel is not installed: apt-get install kannel kannel-extras")
    sereno = Deployment(
        tmp_path / "sereno",
        database_url=own_database_url("outbox_sigterm"),
        # INFO: each sender logs "sending on channel …" once it runs.
        env={"SERENO_SENDER_POLL_MS": "100", "SERENO_LOG_LEVEL": "INFO"},
    )
    sereno.prepare()
    # Inbound is not used here: smsbox's service URL points at a closed port.
    gateway = Gateway(
        tmp_path / "kannel",
        service_url=f"http://127.0.0.1:{free_port()}/unused?id=%I",
        password=SENDSMS_PASSWORD,
    )
    sereno.python(f"""
from sereno.messaging.models import Channel
channel = Channel(uuid="{CHANNEL_UUID}", kind="kannel", name="Kannel", address="1234",
                  enabled=True, rate_per_second=0, burst=1000)
channel.set_config({{"sendsms_url": "{gateway.sendsms_url}", "username": "sereno",
                    "password": "{SENDSMS_PASSWORD}", "secret": "x", "dlr_mask": "0"}})
channel.save()
""")
    gateway.start()
    yield sereno, gateway
    gateway.stop()
    sereno.stop()
    sereno.drop()


def queue_messages(sereno: Deployment) -> None:
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
                     text=f"Aviso {{i:05d}}: lluvias fuertes en Choluteca, ¿está a salvo?",
                     encoding="gsm7", segments=1, next_attempt_at=now, created_at=now)
     for i in range({MESSAGES})], batch_size=1000)
""")


def test_live_senders_never_send_a_row_twice_and_sigterm_leaves_nothing_in_flight(stack, capsys):
    sereno, gateway = stack
    phone = gateway.phone
    before = len(phone.received())

    def arrived() -> list[str]:
        return [m.text for m in phone.received()[before:]]

    # One started by hand, and one that runs two processes itself (`--processes 2`).
    senders = [
        sereno.start_sender("--threads", "8", "--batch", "100"),
        sereno.start_sender("--threads", "8", "--batch", "100", "--processes", "2"),
    ]
    wait_until(
        lambda: sereno.tail("sender", 200).count("sending on channel") >= 3,
        timeout=120, what="three senders running",
    )  # fmt: skip
    queue_messages(sereno)
    wait_until(lambda: len(arrived()) >= MESSAGES // 3, timeout=120, what="a third")
    for proc in senders:
        proc.send_signal(signal.SIGTERM)  # the second passes it on to its two
    assert [proc.wait(timeout=60) for proc in senders] == [0, 0]  # clean exits
    by_status = dict(
        sereno.sql("SELECT status, count(*) FROM messaging_outboundmessage GROUP BY status")
    )
    assert "sending" not in by_status  # sends finished and recorded, the rest given back
    assert by_status.get("sent", 0) >= MESSAGES // 3
    both = sereno.scalar(
        "SELECT count(DISTINCT e.message_id) FROM messaging_deliveryevent e WHERE e.status = 'sent'"
    )
    assert both == by_status["sent"]
    summaries = [
        line for line in sereno.tail("sender", 50).splitlines() if line.startswith("sent ")
    ]
    counts = [int(line.split()[1].rstrip(",")) for line in summaries]
    assert len(counts) == 3  # each printed its summary
    assert sum(1 for count in counts if count) >= 2  # they really sent at the same time
    assert sum(counts) == by_status["sent"]

    restarted = sereno.start_sender("--threads", "8")
    wait_until(lambda: len(set(arrived())) >= MESSAGES, timeout=120, what="every message")
    time.sleep(1.0)  # a duplicate, if any, would arrive now
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(timeout=60) == 0
    texts = collections.Counter(arrived())
    duplicates = sum(texts.values()) - len(texts)
    with capsys.disabled():
        print(
            f"\n[sender sigterm] {MESSAGES} messages, three senders at once then SIGTERM with "
            f"{by_status.get('sent', 0)} sent: {len(texts)} distinct arrived, "
            f"{duplicates} duplicates"
        )
    assert len(texts) == MESSAGES and duplicates == 0
    left = sereno.scalar(
        "SELECT count(*) FROM messaging_outboundmessage WHERE status IN ('queued', 'sending')"
    )
    assert left == 0

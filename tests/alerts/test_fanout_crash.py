"""A fan-out killed with SIGKILL midway and started again: nobody gets two messages, nobody
is skipped (issue 5 §6). Runs `sereno fan-out` as a real process on a database of its own."""

import time

import pytest

from tests.messaging.kannel.deployment import Deployment, own_database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SUBSCRIBERS = 20_000
OPTED_OUT = 50

SETUP = f"""
from datetime import timedelta
from django.utils import timezone
from sereno.accounts.models import User
from sereno.alerts.models import Alert
from sereno.geo import zones
from sereno.messaging.models import Channel, Contact
from sereno.subscriptions.models import Subscription

sms = Channel.objects.create(kind="kannel", name="SMS", enabled=True)
now = timezone.now()
Contact.objects.bulk_create(
    [Contact(scheme="tel", address_hash=f"h{{i}}", address_encrypted=b"x",
             opted_out_at=now if i < {OPTED_OUT} else None) for i in range({SUBSCRIBERS})],
    batch_size=2000)
near = zones.zone_for_circle(14.0723, -87.1921, 1)
far = zones.zone_for_circle(15.5042, -88.0250, 1)
Subscription.objects.bulk_create(
    [Subscription(contact=c, channel=sms, zone=far if c.pk % 10 == 0 else near,
                  status="active", source="web")
     for c in Contact.objects.all()], batch_size=2000)
author = User.objects.create_user(username="mona", password="x")
alert = Alert.objects.create(
    event_es="Balacera", urgency="Immediate", severity="Severe", certainty="Observed",
    headline_es="Balacera", area_desc_es="Centro", effective=now,
    expires=now + timedelta(hours=6), created_by=author, state="published", published_at=now)
alert.zones.add(zones.zone_for_circle(14.0723, -87.1921, 3))
eligible = Subscription.objects.filter(zone=near, contact__opted_out_at__isnull=True)
result = [alert.pk, eligible.count()]
"""


@pytest.fixture
def deployment(tmp_path):
    sereno = Deployment(tmp_path / "sereno", database_url=own_database_url("fanout_crash"))
    sereno.prepare()
    yield sereno
    sereno.stop()
    sereno.drop()


def test_fan_out_killed_midway_and_restarted_messages_everyone_once(deployment, capsys):
    alert_id, eligible = deployment.python(SETUP)
    recipients = "SELECT count(*) FROM alerts_alertrecipient WHERE alert_id = ?"

    def written() -> int:
        return deployment.scalar(recipients, (alert_id,))

    proc = deployment.start_command("fanout", "fan-out", "--alert", str(alert_id), "--batch", "100")
    deadline = time.monotonic() + 120
    while written() < eligible // 4:
        assert proc.poll() is None, "the fan-out ended before it could be killed"
        assert time.monotonic() < deadline, "the fan-out made no progress"
        time.sleep(0.02)
    deployment.kill(proc)  # SIGKILL, mid-batch
    proc.wait(timeout=10)
    at_kill = written()
    assert 0 < at_kill < eligible

    out = deployment.run("fan-out", "--alert", str(alert_id), "--batch", "100")

    messages = deployment.sql(
        "SELECT count(*), count(DISTINCT contact_id) FROM messaging_outboundmessage "
        "WHERE cause = 'alert'"
    )[0]
    opted_out_reached = deployment.scalar(
        "SELECT count(*) FROM messaging_outboundmessage m JOIN messaging_contact c "
        "ON c.id = m.contact_id WHERE c.opted_out_at IS NOT NULL"
    )
    with capsys.disabled():
        print(
            f"\n[fan-out crash] {eligible} subscribers; killed after {at_kill} recipients "
            f"were written; restarted: {out.strip()}; {messages[0]} messages to "
            f"{messages[1]} contacts"
        )
    assert messages == (eligible, eligible)
    assert written() == eligible
    assert opted_out_reached == 0
    fanout_state = deployment.scalar("SELECT fanout FROM alerts_alert WHERE id = ?", (alert_id,))
    assert fanout_state == "done"

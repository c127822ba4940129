from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.accounts.audit import audit_verify
from sereno.accounts.models import AuditEntry
from sereno.lib.crypto import unseal_text
from sereno.lib.errors import Conflict, InvalidInput, Locked, NotAllowed
from sereno.reports import services
from sereno.reports.models import Report, Status
from tests.factories import make_report, publish, report_input

pytestmark = pytest.mark.django_db


def test_create_snaps_public_location_and_indexes_h3():
    report = make_report()
    assert report.status == Status.RECEIVED
    assert len(report.reference) == 10
    assert (report.public_latitude, report.public_longitude) != (report.latitude, report.longitude)
    assert report.public_resolution == 9
    assert all(getattr(report, f"h3_r{r}") for r in (4, 6, 8, 10))
    assert report.department_code == "HN08"


def test_sensitive_categories_snap_coarser():
    plain = make_report()
    sensitive = make_report(categories=["violencia-domestica"])
    assert sensitive.sensitive and not plain.sensitive
    assert sensitive.public_resolution < plain.public_resolution
    minors = make_report(involves_minors=True)
    assert minors.sensitive


def test_contact_is_encrypted_at_rest():
    report = make_report(contact="+504 9999-1234")
    stored = bytes(Report.objects.get(pk=report.pk).contact_encrypted)
    assert b"9999" not in stored
    assert unseal_text(stored, purpose=services.CONTACT_PURPOSE) == "+504 9999-1234"


def test_idempotent_on_intake_key():
    first, created = services.report_create(data=report_input(), intake_key="api:abc")
    again, created_again = services.report_create(data=report_input(), intake_key="api:abc")
    assert created and not created_again
    assert first.pk == again.pk
    assert Report.objects.count() == 1


def test_stored_with_its_categories_and_readable_back():
    report, _ = services.report_create(
        data=report_input(categories=["extorsion", "amenazas"], contact="9999-0000")
    )
    stored = Report.objects.get(reference=report.reference)
    assert stored.pk == report.pk
    assert sorted(c.slug for c in stored.categories.all()) == ["amenazas", "extorsion"]
    assert stored.title == report.title and stored.h3_r8 == report.h3_r8
    assert unseal_text(stored.contact_encrypted, purpose=services.CONTACT_PURPOSE) == "9999-0000"


def test_a_colliding_reference_is_drawn_again(monkeypatch):
    taken, _ = services.report_create(data=report_input())
    draws = iter([taken.reference, "FRESHREF123"])
    monkeypatch.setattr(services, "new_reference", lambda: next(draws))
    report, created = services.report_create(data=report_input())
    assert created and report.reference == "FRESHREF123"
    assert Report.objects.count() == 2


def test_a_retry_racing_inside_a_callers_transaction_keeps_that_transaction(monkeypatch):
    """A channel stores its inbound message and the report in one transaction: a duplicate
    that loses the race on the intake key must not spoil the caller's transaction."""
    from django.db import transaction

    from sereno.accounts.models import User

    first, _ = services.report_create(data=report_input(), intake_key="sms:42")
    real_filter = Report.objects.filter
    calls = {"n": 0}

    def miss_once(*args, **kwargs):  # the early look-up misses, as in a real race
        calls["n"] += 1
        return real_filter(pk=-1) if calls["n"] == 1 else real_filter(*args, **kwargs)

    with transaction.atomic():
        User.objects.create(username="written-in-the-same-transaction")
        monkeypatch.setattr(Report.objects, "filter", miss_once)
        again, created = services.report_create(data=report_input(), intake_key="sms:42")
        monkeypatch.undo()
        assert not created and again.pk == first.pk
    assert User.objects.filter(username="written-in-the-same-transaction").exists()
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"latitude": float("nan")}, "latitude"),
        ({"latitude": 95.0}, "latitude"),
        ({"longitude": -181.0}, "longitude"),
        ({"longitude": None}, "latitude"),
        ({"occurred_at": timezone.now() + timedelta(days=2)}, "occurred_at"),
        ({"categories": ["no-such-thing"]}, "categories"),
        ({"title": "   "}, "title"),
        ({"description": "x" * 10001}, "description"),
        ({"killed": -1}, "killed"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(overrides, field):
    with pytest.raises(InvalidInput) as error:
        services.report_create(data=report_input(**overrides))
    assert error.value.field == field
    assert Report.objects.count() == 0


def test_html_is_stored_as_text():
    report = make_report(title="<script>alert(1)</script>")
    assert report.title == "<script>alert(1)</script>"


def test_workflow_enforced_and_audited(moderator):
    report = make_report()
    with pytest.raises(Conflict):
        services.report_transition(actor=moderator, report_id=report.pk, to_status="published")
    with pytest.raises(InvalidInput):
        services.report_transition(actor=moderator, report_id=report.pk, to_status="rejected")
    publish(report, moderator)
    report.refresh_from_db()
    assert report.status == Status.PUBLISHED and report.published_at
    services.report_transition(
        actor=moderator, report_id=report.pk, to_status="archived", reason="old"
    )
    actions = list(
        AuditEntry.objects.filter(object_id=report.reference).values_list("action", "reason")
    )
    assert actions == [
        ("report.verified", ""),
        ("report.published", ""),
        ("report.archived", "old"),
    ]
    assert audit_verify()[1] == []


def test_only_moderators_transition(analyst, outsider):
    report = make_report()
    for actor in (analyst, outsider, None):
        with pytest.raises(NotAllowed):
            services.report_transition(actor=actor, report_id=report.pk, to_status="verified")


def test_lock_blocks_other_moderators_and_bulk(moderator, moderator2):
    locked = make_report()
    free = make_report()
    services.report_lock(actor=moderator, report_id=locked.pk)
    with pytest.raises(Locked) as error:
        services.report_lock(actor=moderator2, report_id=locked.pk)
    assert "mona" in error.value.message
    with pytest.raises(Locked):
        services.report_edit(actor=moderator2, report_id=locked.pk, changes={"title": "x y"})
    result = services.report_bulk_transition(
        actor=moderator2, report_ids=[locked.pk, free.pk], to_status="verified"
    )
    assert result.done == [free.reference]
    assert locked.reference in result.skipped
    assert Report.objects.get(pk=locked.pk).status == Status.RECEIVED


def test_lock_expires(moderator, moderator2):
    report = make_report()
    services.report_lock(actor=moderator, report_id=report.pk)
    Report.objects.filter(pk=report.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    services.report_lock(actor=moderator2, report_id=report.pk)
    assert Report.objects.get(pk=report.pk).locked_by == moderator2


def test_edit_recomputes_location_and_audits(moderator):
    report = make_report()
    edited = services.report_edit(
        actor=moderator,
        report_id=report.pk,
        changes={"latitude": 15.5042, "longitude": -88.0250, "categories": ["violencia-sexual"]},
        reason="corrected location",
    )
    assert edited.department_code == "HN06"
    assert edited.sensitive and edited.public_resolution == 7
    entry = AuditEntry.objects.get(action="report.edit")
    assert entry.before["latitude"] == pytest.approx(14.0818)
    assert entry.after["categories"] == ["violencia-sexual"]


def test_merge_keeps_links_and_count(moderator):
    target = make_report()
    dupes = [make_report(categories=["amenazas"]) for _ in range(2)]
    merged = services.report_merge(
        actor=moderator, target_id=target.pk, source_ids=[d.pk for d in dupes], reason="same"
    )
    assert merged.merged_sources.count() == 2
    assert set(merged.categories.values_list("slug", flat=True)) == {"robo-asalto", "amenazas"}
    for dupe in dupes:
        dupe.refresh_from_db()
        assert dupe.merged_into_id == target.pk and dupe.status == Status.ARCHIVED
    with pytest.raises(Conflict):
        services.report_transition(actor=moderator, report_id=dupes[0].pk, to_status="published")


def test_comment(moderator, analyst):
    report = make_report()
    comment = services.comment_add(actor=moderator, report_id=report.pk, body="Llamar a la fuente")
    assert comment.body == "Llamar a la fuente"
    with pytest.raises(NotAllowed):
        services.comment_add(actor=analyst, report_id=report.pk, body="hola")

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sereno.accounts.models import AuditEntry
from sereno.alerts import services
from sereno.alerts.models import Alert
from sereno.lib.errors import Conflict, InvalidInput, NotAllowed
from tests.alerts.conftest import alert_fields, circle_zone, draft, publish
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_draft_submit_approve_publishes_and_audits(moderator, moderator2):
    alert = draft(moderator)
    assert alert.state == Alert.State.DRAFT and alert.created_by == moderator
    services.alert_submit(alert=alert, by=moderator)
    services.alert_approve(alert=alert, by=moderator2)
    alert.refresh_from_db()
    assert alert.state == Alert.State.PUBLISHED
    assert alert.approved_by == moderator2 and alert.published_at is not None
    actions = list(
        AuditEntry.objects.filter(object_id=str(alert.identifier)).values_list("action", flat=True)
    )
    assert actions == ["alert.draft", "alert.submit", "alert.publish"]
    publish_row = AuditEntry.objects.get(action="alert.publish")
    assert publish_row.actor_id == moderator2.pk


def test_the_drafter_cannot_approve_their_own_alert(moderator):
    alert = draft(moderator)
    services.alert_submit(alert=alert, by=moderator)
    with pytest.raises(NotAllowed, match="otra persona"):
        services.alert_approve(alert=alert, by=moderator)
    alert.refresh_from_db()
    assert alert.state == Alert.State.SUBMITTED and alert.approved_by is None
    assert not AuditEntry.objects.filter(action="alert.publish").exists()


def test_the_database_also_refuses_the_same_person(moderator):
    alert = draft(moderator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(approved_by=moderator)


def test_approving_needs_the_permission(moderator, analyst):
    alert = draft(moderator)
    services.alert_submit(alert=alert, by=moderator)
    with pytest.raises(NotAllowed):
        services.alert_approve(alert=alert, by=analyst)
    with pytest.raises(NotAllowed):
        draft(analyst)


def test_admins_and_moderators_hold_both_permissions(admin_user, moderator, analyst):
    for user in (admin_user, moderator):
        assert user.has_perm("alerts.draft_alert") and user.has_perm("alerts.approve_alert")
    assert not analyst.has_perm("alerts.draft_alert")


def test_only_a_submitted_alert_is_approved_and_only_once(moderator, moderator2, admin_user):
    alert = draft(moderator)
    with pytest.raises(Conflict):
        services.alert_approve(alert=alert, by=moderator2)
    publish(alert, moderator, moderator2)
    with pytest.raises(Conflict):
        services.alert_approve(alert=Alert.objects.get(pk=alert.pk), by=admin_user)
    alert.refresh_from_db()
    assert alert.approved_by == moderator2
    assert AuditEntry.objects.filter(action="alert.publish").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_publish_once():
    drafter = make_user("dora", "moderator")
    approvers = [make_user("apo1", "moderator"), make_user("apo2", "admin")]
    alert = draft(drafter)
    services.alert_submit(alert=alert, by=drafter)
    outcomes = []

    def approve(user):
        try:
            services.alert_approve(alert=Alert.objects.get(pk=alert.pk), by=user)
            outcomes.append("published")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    if connection.vendor == "postgresql":  # real concurrent connections
        threads = [threading.Thread(target=approve, args=(u,)) for u in approvers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    else:  # SQLite serialises writers: the second one finds it already published
        for user in approvers:
            approve(user)
    assert sorted(outcomes) == ["conflict", "published"]
    assert AuditEntry.objects.filter(action="alert.publish").count() == 1


def test_reject_needs_a_reason_and_the_drafter_can_edit_and_resubmit(moderator, moderator2):
    alert = draft(moderator)
    services.alert_submit(alert=alert, by=moderator)
    with pytest.raises(InvalidInput):
        services.alert_reject(alert=alert, by=moderator2, reason="  ")
    services.alert_reject(alert=alert, by=moderator2, reason="Falta confirmar con la policía")
    alert.refresh_from_db()
    assert alert.state == Alert.State.REJECTED and "policía" in alert.rejected_reason
    assert AuditEntry.objects.get(action="alert.reject").reason.startswith("Falta")
    services.alert_update_draft(alert=alert, by=moderator, headline_es="Balacera confirmada")
    alert.refresh_from_db()
    assert alert.state == Alert.State.DRAFT and alert.headline_es == "Balacera confirmada"
    publish(alert, moderator, moderator2)


def test_editing_a_submitted_alert_sends_it_back_to_draft(moderator, moderator2):
    alert = draft(moderator)
    services.alert_submit(alert=alert, by=moderator)
    services.alert_update_draft(alert=alert, by=moderator, severity="Extreme")
    with pytest.raises(Conflict):
        services.alert_approve(alert=Alert.objects.get(pk=alert.pk), by=moderator2)


def test_a_published_alert_cannot_be_edited(published, moderator):
    with pytest.raises(Conflict):
        services.alert_update_draft(alert=published, by=moderator, headline_es="Otro")


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"headline_es": ""}, "headline_es"),
        ({"event_es": " "}, "event_es"),
        ({"area_desc_es": ""}, "area_desc_es"),
        ({"urgency": "Soon"}, "urgency"),
    ],
)
def test_spanish_texts_and_cap_values_are_required(moderator, overrides, field):
    with pytest.raises(InvalidInput) as error:
        draft(moderator, **overrides)
    assert error.value.field == field
    assert not Alert.objects.exists()


def test_expiry_must_follow_the_start_and_an_area_is_needed(moderator, now):
    with pytest.raises(InvalidInput) as error:
        draft(moderator, effective=now, expires=now - timedelta(minutes=1))
    assert error.value.field == "expires"
    with pytest.raises(InvalidInput) as error:
        services.alert_draft(by=moderator, zones=[], **alert_fields())
    assert error.value.field == "zones"


def test_english_is_optional(moderator, moderator2):
    alert = draft(moderator, event_en="", headline_en="", description_en="", area_desc_en="")
    publish(alert, moderator, moderator2)
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.PUBLISHED


def test_an_expired_alert_is_not_published(moderator, moderator2):
    past = timezone.now() - timedelta(hours=3)
    alert = draft(moderator, effective=past, expires=past + timedelta(hours=1))
    services.alert_submit(alert=alert, by=moderator)
    with pytest.raises(InvalidInput):
        services.alert_approve(alert=alert, by=moderator2)


def test_an_update_references_the_original_and_supersedes_it_when_published(
    published, moderator, moderator2
):
    wider = circle_zone(5)
    update = services.alert_follow_up(
        original=published, msg_type="Update", by=moderator2, zones=[wider],
        headline_es="La balacera continúa",
    )  # fmt: skip
    assert update.references == published and update.msg_type == "Update"
    assert update.event_es == published.event_es  # copied from the original
    assert list(update.zones.all()) == [wider]
    published.refresh_from_db()
    assert published.state == Alert.State.PUBLISHED  # still current until the update is out
    publish(update, moderator2, moderator)
    published.refresh_from_db()
    assert published.state == Alert.State.SUPERSEDED


def test_a_cancellation_keeps_the_area_and_a_superseded_alert_cannot_be_followed_up(
    published, moderator, moderator2
):
    cancel = services.alert_follow_up(original=published, msg_type="Cancel", by=moderator)
    assert list(cancel.zones.all()) == list(published.zones.all())
    second = services.alert_follow_up(original=published, msg_type="Update", by=moderator)
    publish(cancel, moderator, moderator2)
    services.alert_submit(alert=second, by=moderator)
    with pytest.raises(Conflict):  # the original was already replaced by the cancellation
        services.alert_approve(alert=second, by=moderator2)
    assert Alert.objects.get(pk=second.pk).state == Alert.State.SUBMITTED
    with pytest.raises(Conflict):
        services.alert_follow_up(
            original=Alert.objects.get(pk=published.pk), msg_type="Update", by=moderator
        )


def test_a_follow_up_is_an_update_or_a_cancellation(published, moderator):
    with pytest.raises(InvalidInput):
        services.alert_follow_up(original=published, msg_type="Alert", by=moderator)

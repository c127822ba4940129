"""Every write to an alert: checks, the write and its audit row, in one transaction.

State changes are conditional updates (`UPDATE … WHERE state = old`), so two approvers
pressing at once publish once, and two follow-ups of one alert cannot both replace it.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.alerts import fanout
from sereno.alerts.models import Alert
from sereno.geo.models import Zone
from sereno.lib.errors import Conflict, InvalidInput, NotAllowed

DRAFT = "alerts.draft_alert"
APPROVE = "alerts.approve_alert"
EDITABLE_FIELDS = (
    "status", "category", "urgency", "severity", "certainty",
    "event_es", "event_en", "headline_es", "headline_en", "description_es", "description_en",
    "instruction_es", "instruction_en", "area_desc_es", "area_desc_en",
    "effective", "expires", "signal_id",
)  # fmt: skip
REQUIRED_SPANISH = ("event_es", "headline_es", "area_desc_es")
EDITABLE_STATES = (Alert.State.DRAFT, Alert.State.SUBMITTED, Alert.State.REJECTED)


def alert_draft(*, by, zones: list[Zone], **fields) -> Alert:
    """A new draft (state draft) written by `by`."""
    _require(by, DRAFT)
    alert = Alert(created_by=by, **_known(fields))
    _validate(alert, zones)
    with transaction.atomic():
        alert.save()
        alert.zones.set(zones)
        _audit(by, "alert.draft", alert, after=_snapshot(alert, zones))
    return alert


def alert_update_draft(*, alert: Alert, by, zones: list[Zone] | None = None, **fields) -> Alert:
    """Edit a draft. A submitted or rejected alert goes back to draft: what an approver
    approves is always what they last saw."""
    _require(by, DRAFT)
    for name, value in _known(fields).items():
        setattr(alert, name, value)
    zones = list(alert.zones.all()) if zones is None else zones
    _validate(alert, zones)
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, state__in=EDITABLE_STATES).update(
            state=Alert.State.DRAFT,
            submitted_at=None,
            **{n: getattr(alert, n) for n in EDITABLE_FIELDS},
        )
        if not changed:
            raise Conflict(_("This alert can no longer be edited."))
        alert.zones.set(zones)
        alert.state, alert.submitted_at = Alert.State.DRAFT, None
        _audit(by, "alert.edit", alert, after=_snapshot(alert, zones))
    return alert


def alert_submit(*, alert: Alert, by) -> Alert:
    """Ask for approval (by someone else)."""
    _require(by, DRAFT)
    _validate(alert, list(alert.zones.all()))
    now = timezone.now()
    return _move(
        alert, by, "alert.submit", Alert.State.DRAFT, Alert.State.SUBMITTED, submitted_at=now
    )


def alert_approve(*, alert: Alert, by) -> Alert:
    """Approve and publish: by a second person holding approve_alert, never the drafter.
    Publishing a follow-up marks the alert it refers to superseded; the fan-out starts when
    the transaction commits."""
    _require(by, APPROVE)
    if alert.created_by_id == by.pk:
        raise NotAllowed(_("You drafted this alert: another person must approve it."))
    now = timezone.now()
    if alert.expires <= now:
        raise InvalidInput(
            _("This alert has already expired; edit its expiry first."), field="expires"
        )
    try:
        with transaction.atomic():
            changed = (
                Alert.objects.filter(pk=alert.pk, state=Alert.State.SUBMITTED)
                .exclude(created_by=by)
                .update(state=Alert.State.PUBLISHED, approved_by=by, published_at=now)
            )
            if not changed:
                raise Conflict(_("This alert is not waiting for approval (someone acted first?)."))
            if alert.references_id:
                _supersede(alert.references_id)
            alert.state, alert.approved_by, alert.published_at = Alert.State.PUBLISHED, by, now
            _audit(by, "alert.publish", alert, after={"state": alert.state})
            _start_fanout(alert)
    except IntegrityError as error:  # the database's own two-person check
        raise NotAllowed(_("You drafted this alert: another person must approve it.")) from error
    return alert


def alert_reject(*, alert: Alert, by, reason: str) -> Alert:
    """Send a submitted alert back with a reason (the drafter can edit and submit again)."""
    _require(by, APPROVE)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the alert is rejected."), field="reason")
    return _move(
        alert, by, "alert.reject", Alert.State.SUBMITTED, Alert.State.REJECTED,
        reason=reason, rejected_reason=reason[:2000],
    )  # fmt: skip


def alert_follow_up(
    *, original: Alert, msg_type: str, by, zones: list[Zone] | None = None, **fields
) -> Alert:
    """A new draft updating or cancelling a published alert (CAP msgType + references).
    Unset fields are copied from the original."""
    _require(by, DRAFT)
    if msg_type not in (Alert.MsgType.UPDATE, Alert.MsgType.CANCEL):
        raise InvalidInput(_("A follow-up is an update or a cancellation."), field="msg_type")
    if original.state != Alert.State.PUBLISHED:
        raise Conflict(_("Only a published, current alert can be updated or cancelled."))
    values = {name: getattr(original, name) for name in EDITABLE_FIELDS}
    values.update(_known(fields))
    if zones is None:
        zones = list(original.zones.all())
    alert = Alert(created_by=by, msg_type=msg_type, references=original, **values)
    _validate(alert, zones)
    with transaction.atomic():
        alert.save()
        alert.zones.set(zones)
        _audit(
            by, "alert.follow_up", alert, after={"msg_type": msg_type, "references": original.pk}
        )
    return alert


# --- internals ---------------------------------------------------------------------------------


def _start_fanout(alert: Alert) -> None:
    """The fan-out is queued once this transaction commits."""
    fanout.start(alert.id)


def _supersede(original_id: int) -> None:
    changed = Alert.objects.filter(pk=original_id, state=Alert.State.PUBLISHED).update(
        state=Alert.State.SUPERSEDED
    )
    if not changed:
        raise Conflict(_("The alert this one updates was already updated or cancelled."))


def _move(alert: Alert, by, action: str, old: str, new: str, reason: str = "", **extra) -> Alert:
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, state=old).update(state=new, **extra)
        if not changed:
            raise Conflict(_("The alert changed meanwhile; reload the page."))
        alert.state = new
        for name, value in extra.items():
            setattr(alert, name, value)
        _audit(by, action, alert, reason=reason, before={"state": old}, after={"state": new})
    return alert


def _require(user, perm: str) -> None:
    if not (user and user.is_authenticated and user.has_perm(perm)):
        raise NotAllowed(_("You are not allowed to do this."))


def _known(fields: dict) -> dict:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown alert fields: {sorted(unknown)}")
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}


def _validate(alert: Alert, zones: list[Zone]) -> None:
    for name in REQUIRED_SPANISH:
        if not getattr(alert, name, ""):
            raise InvalidInput(_("The Spanish text is required."), field=name)
    for name in ("urgency", "severity", "certainty"):
        if getattr(alert, name) not in getattr(Alert, name.capitalize()).values:
            raise InvalidInput(_("Choose a value from the list."), field=name)
    if not isinstance(alert.effective, datetime) or not isinstance(alert.expires, datetime):
        raise InvalidInput(_("Give when the alert starts and when it expires."), field="expires")
    if timezone.is_naive(alert.effective) or timezone.is_naive(alert.expires):
        raise InvalidInput(_("Give when the alert starts and when it expires."), field="expires")
    if alert.expires <= alert.effective:
        raise InvalidInput(_("The alert must expire after it takes effect."), field="expires")
    if not zones:
        raise InvalidInput(_("Give the alert's area: at least one zone."), field="zones")


def _snapshot(alert: Alert, zones: list[Zone]) -> dict:
    return {
        "state": alert.state,
        "msg_type": alert.msg_type,
        "headline_es": alert.headline_es,
        "effective": alert.effective,
        "expires": alert.expires,
        "zones": [z.key for z in zones],
    }


def _audit(by, action: str, alert: Alert, *, reason: str = "", before=None, after=None) -> None:
    audit_append(
        actor=by, action=action, object_type="alert", object_id=str(alert.identifier),
        reason=reason, before=before, after=after,
    )  # fmt: skip

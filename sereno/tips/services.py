"""Writes for the tip line: submission, return with the receipt, comments, replies, retention.

Invariants: nothing a source wrote is stored in the clear (sealed to the tip key); a request
either stores everything or nothing (one transaction; files encrypted to a temporary name,
moved into place, and removed again if anything fails); no client address is read here.
"""

import hmac
import json
import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.lib.errors import InvalidInput, NotAllowed, NotFound
from sereno.tips import conf, crypto
from sereno.tips.cleaning import clean_file
from sereno.tips.models import Channel, Entry, Question, RecipientKey, Tip, TipAccess, TipFile

log = logging.getLogger(__name__)

TEXT_MAX = 20_000
CONTACT_MAX = 200
NAME_MAX = 200


def storage_dir() -> Path:
    path = Path(settings.MEDIA_DIR) / "tips"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def tmp_dir() -> Path:
    path = storage_dir() / "tmp"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


# --- answers -----------------------------------------------------------------------------------


def _check_answers(channel: Channel, answers: dict[str, str]) -> list[dict]:
    """The answers as a list of {question, kind, value}, validated against the questionnaire."""
    out, errors = [], {}
    for question in channel.questions.all():
        if question.kind == Question.Kind.FILES:
            continue
        value = (answers.get(str(question.pk)) or "").strip()
        if len(value) > TEXT_MAX:
            errors[str(question.pk)] = _("This answer is too long.")
        elif question.required and not value:
            errors[str(question.pk)] = _("This question needs an answer.")
        elif value and question.kind == Question.Kind.CHOICE:
            if value not in {v for v, _label in question.choice_list()}:
                errors[str(question.pk)] = _("Choose one of the options.")
        elif value and question.kind == Question.Kind.DATE:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                errors[str(question.pk)] = _("Write the date as year-month-day.")
            else:
                if day > timezone.localdate():
                    errors[str(question.pk)] = _("The date cannot be in the future.")
        if value:
            out.append({"q": question.label, "kind": question.kind, "value": value})
    if errors:
        raise InvalidInput(_("Some answers need attention."), details=errors)
    if not out:
        raise InvalidInput(_("Write something before you send the tip."))
    return out


# --- files -------------------------------------------------------------------------------------


@dataclass
class _Stored:
    """Encrypted files written during one request, removed again if the request fails."""

    paths: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        for path in self.paths:
            crypto.shred(path)


def _safe_name(name: str) -> str:
    # Only for display to recipients, and sealed: never used as a path.
    base = os.path.basename((name or "").replace("\\", "/")).strip().lstrip(".")
    base = "".join(c for c in base if c.isprintable() and c not in '/\\:*?"<>|')
    return base[:NAME_MAX] or "file"


def _encrypt_into_storage(src, stored: _Stored) -> tuple[str, bytes, str, int]:
    """(relative path, key, sha256, size): encrypted to a temporary name, then moved."""
    key = crypto.new_file_key()
    name = secrets.token_hex(16)
    tmp = tmp_dir() / f"{name}.part"
    digest, size = crypto.encrypt_file(src, tmp, key=key)
    final = storage_dir() / name[:2] / name
    final.parent.mkdir(exist_ok=True, mode=0o700)
    os.replace(tmp, final)
    stored.paths.append(final)
    return f"{name[:2]}/{name}", key, digest, size


def _clean(plain: Path, *, filename: str, content_type: str, work: Path):
    """Clean the plaintext file into a derivative (sereno/tips/cleaning). Returns (status,
    derivative path, derivative name, reason code); readers see the reason for the code in
    their own language."""
    try:
        result = clean_file(plain, filename=filename, content_type=content_type, dst_dir=work)
    except Exception as exc:  # a cleaner crash must not lose the tip, nor pass the file as clean
        # The type only: a message or traceback could quote the file's name or content.
        log.warning("tip file cleaning failed: %s", type(exc).__name__)
        return "not_cleanable", None, "", "failed"
    return result.status, result.derivative_path, result.derivative_name, result.code


def _store_file(*, tip: Tip, entry: Entry, upload, stored: _Stored) -> TipFile:
    if upload.size > conf.max_file_bytes():
        raise InvalidInput(_("A file is larger than the limit."), field="files")
    filename = _safe_name(upload.name)
    content_type = (getattr(upload, "content_type", "") or "application/octet-stream")[:100]
    work = Path(tempfile.mkdtemp(dir=tmp_dir()))
    try:
        # The cleaner needs a plaintext file: the upload's own private temporary file (see
        # uploads.py), or for a small upload held in memory a private copy, shredded below.
        if hasattr(upload, "temporary_file_path"):
            plain = Path(upload.temporary_file_path())
        else:
            plain = work / "original"
            with open(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        status, derivative, derivative_name, reason_code = _clean(
            plain, filename=filename, content_type=content_type, work=work / "clean"
        )
        if status not in TipFile.Status.values:
            status, reason_code = "not_cleanable", "failed"
        meta = {"name": filename, "type": content_type, "reason_code": reason_code}
        tip_file = TipFile(tip=tip, entry=entry, status=status)
        with open(plain, "rb") as src:
            path, key, digest, size = _encrypt_into_storage(src, stored)
        meta.update(sha256=digest, size=size)
        tip_file.original_path = path
        tip_file.original_key = crypto.seal_to(tip.public_key, key)
        if status == TipFile.Status.CLEANED and derivative:
            with open(derivative, "rb") as src:
                dpath, dkey, ddigest, dsize = _encrypt_into_storage(src, stored)
            tip_file.derivative_path = dpath
            tip_file.derivative_key = crypto.seal_to(tip.public_key, dkey)
            meta.update(
                derivative_name=_safe_name(derivative_name or filename),
                derivative_sha256=ddigest, derivative_size=dsize,
            )  # fmt: skip
        tip_file.sealed_meta = crypto.seal_to(tip.public_key, json.dumps(meta).encode())
        tip_file.save()
        return tip_file
    finally:
        for path in work.rglob("*"):
            if path.is_file():
                crypto.shred(path)
        shutil.rmtree(work, ignore_errors=True)


def _add_entry(*, tip: Tip, kind: str, body: dict, author=None, files=(), stored: _Stored) -> Entry:
    entry = Entry.objects.create(
        tip=tip, kind=kind, author=author,
        sealed=crypto.seal_to(tip.public_key, json.dumps(body).encode()),
    )  # fmt: skip
    for upload in files:
        _store_file(tip=tip, entry=entry, upload=upload, stored=stored)
    return entry


def _check_files(channel: Channel, files) -> list:
    files = list(files or [])
    if files and not channel.allow_files:
        raise InvalidInput(_("This channel does not accept files."), field="files")
    if len(files) > conf.get("TIPS_MAX_FILES"):
        raise InvalidInput(_("Too many files."), field="files")
    for upload in files:
        if upload.size > conf.max_file_bytes():
            raise InvalidInput(_("A file is larger than the limit."), field="files")
    return files


def channel_recipients_changed(*, channel: Channel) -> int:
    """Remove the wrapped tip keys of people who are no longer recipients of `channel`."""
    removed, _ = (
        TipAccess.objects.filter(tip__channel=channel)
        .exclude(user__in=channel.recipients.all())
        .delete()
    )
    return removed


# --- submission --------------------------------------------------------------------------------


def _expiry(channel: Channel, now):
    return now + timedelta(days=channel.retention_days)


def tip_submit(
    *, channel: Channel, answers: dict[str, str], files=(), contact: str = ""
) -> tuple[Tip, str]:
    """Store a new tip, encrypted on arrival; return (tip, receipt). Show the receipt once."""
    if not channel.active:
        raise NotFound(_("This tip channel is closed."))
    body = _check_answers(channel, answers)
    files = _check_files(channel, files)
    contact = (contact or "").strip()
    if len(contact) > CONTACT_MAX:
        raise InvalidInput(_("The contact is too long."), field="contact")

    public, private = crypto.new_keypair()
    receipt = crypto.new_receipt()
    canonical = crypto.normalize_receipt(receipt)
    salt = crypto.new_salt()
    verifier, wrapping = crypto.receipt_keys(canonical, salt)
    recipients = list(
        RecipientKey.objects.filter(
            user__in=channel.recipients.filter(is_active=True, groups__name="tip_recipient")
        ).select_related("user")
    )
    now = timezone.now()
    stored = _Stored()
    try:
        with transaction.atomic():
            tip = Tip.objects.create(
                channel=channel, public_key=public,
                lookup_id=crypto.receipt_lookup_id(canonical), receipt_salt=salt,
                receipt_verifier=verifier, source_wrapped=crypto.wrap(private, wrapping),
                contact_sealed=crypto.seal_to(public, contact.encode()) if contact else None,
                last_activity_at=now, last_source_activity_at=now,
                expires_at=_expiry(channel, now),
            )  # fmt: skip
            TipAccess.objects.bulk_create(
                TipAccess(tip=tip, user=key.user, wrapped=crypto.seal_to(key.public_key, private))
                for key in recipients
            )
            _add_entry(tip=tip, kind=Entry.Kind.ANSWERS, body={"answers": body}, files=files,
                       stored=stored)  # fmt: skip
    except BaseException:
        stored.discard()
        raise
    return tip, receipt


# --- return with the receipt -------------------------------------------------------------------

_DUMMY_SALT = b"\0" * crypto.SALT_BYTES


def tip_open(*, receipt: str) -> tuple[Tip, bytes]:
    """(tip, tip private key) for a receipt. Raises crypto.MalformedReceipt for text that is
    not 8 list words, NotFound for any wrong receipt — after the same Argon2id work, whether
    or not the lookup id matched, so time does not tell them apart."""
    canonical = crypto.normalize_receipt(receipt)
    tip = Tip.objects.filter(lookup_id=crypto.receipt_lookup_id(canonical)).first()
    salt = bytes(tip.receipt_salt) if tip else _DUMMY_SALT
    verifier, wrapping = crypto.receipt_keys(canonical, salt)
    expected = bytes(tip.receipt_verifier) if tip else b"\1" * 32
    if tip is None or not hmac.compare_digest(verifier, expected):
        raise NotFound(_("No tip matches this receipt. Check each word and try again."))
    try:
        return tip, crypto.unwrap(tip.source_wrapped, wrapping)
    except crypto.CryptoError:  # pragma: no cover - verifier and key come from one Argon2id
        raise NotFound(_("No tip matches this receipt. Check each word and try again.")) from None


def _touch(tip: Tip, *, source: bool) -> None:
    now = timezone.now()
    changes = {"last_activity_at": now, "warned_at": None}
    if source:
        changes["last_source_activity_at"] = now
    Tip.objects.filter(pk=tip.pk).update(**changes)
    # Activity extends the expiry; never shortens it.
    Tip.objects.filter(pk=tip.pk, expires_at__lt=_expiry(tip.channel, now)).update(
        expires_at=_expiry(tip.channel, now)
    )


def tip_comment(*, tip: Tip, text: str, files=()) -> Entry:
    """The source adds a comment and/or files (sealed to the tip key: no key needed)."""
    text = (text or "").strip()
    files = _check_files(tip.channel, files)
    if len(text) > TEXT_MAX:
        raise InvalidInput(_("This answer is too long."), field="text")
    if not text and not files:
        raise InvalidInput(_("Write something or add a file."), field="text")
    stored = _Stored()
    try:
        with transaction.atomic():
            entry = _add_entry(tip=tip, kind=Entry.Kind.COMMENT, body={"text": text},
                               files=files, stored=stored)  # fmt: skip
            _touch(tip, source=True)
    except BaseException:
        stored.discard()
        raise
    return entry


# --- recipients --------------------------------------------------------------------------------


def tip_key_for(*, tip: Tip, user, private_key: bytes) -> bytes:
    """The tip's private key, opened with the recipient's unlocked key."""
    access = TipAccess.objects.filter(tip=tip, user=user).first()
    if access is None:
        raise NotAllowed(_("You are not a recipient of this tip."))
    return crypto.open_sealed(private_key, access.wrapped)


def tip_share_missing(*, tip: Tip, tip_private_key: bytes, actor) -> int:
    """Give the tip key to the channel's current recipients who have a key but no access yet
    (added to the channel, or onboarded, after the tip arrived). Runs when a recipient opens
    the tip, the only moment the server holds the tip key."""
    keys = RecipientKey.objects.filter(
        user__in=tip.channel.recipients.filter(is_active=True, groups__name="tip_recipient"),
        recovery_confirmed=True,
    ).exclude(user__tip_accesses__tip=tip)
    granted = [
        TipAccess(
            tip=tip, user_id=key.user_id, wrapped=crypto.seal_to(key.public_key, tip_private_key)
        )
        for key in keys
    ]
    if not granted:
        return 0
    with transaction.atomic():
        TipAccess.objects.bulk_create(granted, ignore_conflicts=True)
        audit_append(
            actor=actor, action="tips.access_granted", object_type="tip", object_id=str(tip.pk),
            after={"users": [access.user_id for access in granted]},
        )  # fmt: skip
    return len(granted)


def tip_opened(*, tip: Tip, user) -> None:
    """Mark the tip read for `user`; the audit log keeps who opened which tip when."""
    with transaction.atomic():
        TipAccess.objects.filter(tip=tip, user=user).update(last_read_at=timezone.now())
        audit_append(actor=user, action="tips.opened", object_type="tip", object_id=str(tip.pk))


def tip_reply(*, tip: Tip, user, text: str, tip_private_key: bytes) -> Entry:
    """A recipient answers the source; notify the source if they left a contact."""
    text = (text or "").strip()
    if not TipAccess.objects.filter(tip=tip, user=user).exists():
        raise NotAllowed(_("You are not a recipient of this tip."))
    if not text:
        raise InvalidInput(_("Write a reply."), field="text")
    if len(text) > TEXT_MAX:
        raise InvalidInput(_("This answer is too long."), field="text")
    with transaction.atomic():
        entry = _add_entry(tip=tip, kind=Entry.Kind.REPLY, body={"text": text}, author=user,
                           stored=_Stored())  # fmt: skip
        _touch(tip, source=False)
        TipAccess.objects.filter(tip=tip, user=user).update(last_read_at=timezone.now())
        audit_append(actor=user, action="tips.reply", object_type="tip", object_id=str(tip.pk))
    if tip.contact_sealed:
        contact = crypto.open_sealed(tip_private_key, tip.contact_sealed).decode()
        transaction.on_commit(lambda: notify_source(contact=contact))
    return entry


def notify_source(*, contact: str) -> bool:
    """E-mail the source that there is news: no content, no link with a secret, nothing about
    the tip. Only when notifications are configured and the contact is an e-mail address."""
    if not conf.get("TIPS_NOTIFICATIONS") or "@" not in contact:
        return False
    subject = _("News on your tip")
    body = _(
        "There is news on the tip you sent. Open the tip line again and enter your receipt to "
        "read it. Do not reply to this message."
    )
    try:
        send_mail(subject, body, conf.get("TIPS_NOTIFY_FROM") or None, [contact])
    except Exception:  # a mail server failure must not undo the reply
        log.warning("tip notification could not be sent")
        return False
    return True


# --- retention ---------------------------------------------------------------------------------


def tip_delete(*, tip: Tip, actor=None) -> None:
    """Destroy a tip: its wrapped keys and ciphertext rows, then its files (overwritten)."""
    paths = []
    for tip_file in tip.files.all():
        for rel in (tip_file.original_path, tip_file.derivative_path):
            if rel:
                paths.append(storage_dir() / rel)
    with transaction.atomic():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:  # freed pages are zeroed, not left readable
                cursor.execute("PRAGMA secure_delete = ON")
        Tip.objects.filter(pk=tip.pk).delete()
        audit_append(actor=actor, action="tips.deleted", object_type="tip", object_id=str(tip.pk))
    for path in paths:
        crypto.shred(path)


def tips_expire(*, now=None) -> int:
    now = now or timezone.now()
    count = 0
    for tip in Tip.objects.filter(expires_at__lte=now):
        tip_delete(tip=tip)
        count += 1
    return count


def tips_warn(*, now=None) -> int:
    """Warn each recipient of tips that expire within TIPS_WARN_HOURS (once per tip, again
    after new activity). The inbox shows the same warning."""
    now = now or timezone.now()
    soon = now + timedelta(hours=conf.get("TIPS_WARN_HOURS"))
    count = 0
    for tip in Tip.objects.filter(expires_at__lte=soon, expires_at__gt=now, warned_at=None):
        if not Tip.objects.filter(pk=tip.pk, warned_at=None).update(warned_at=now):
            continue
        emails = [
            a.user.email for a in tip.accesses.select_related("user") if a.user.email
        ]  # fmt: skip
        if emails:
            try:
                send_mail(
                    _("A tip will be deleted soon"),
                    _(
                        "A tip in the channel \"%(channel)s\" will be deleted on %(when)s "
                        "unless there is new activity. Open your tip inbox to read it or reply."
                    )
                    % {"channel": tip.channel.name, "when": f"{tip.expires_at:%Y-%m-%d %H:%M} UTC"},
                    None,
                    emails,
                )  # fmt: skip
            except Exception:
                log.warning("tip expiry warning could not be sent")
        count += 1
    return count


def tip_extend(*, tip: Tip, user) -> None:
    """A recipient keeps a tip for another retention period from now."""
    if not TipAccess.objects.filter(tip=tip, user=user).exists():
        raise NotAllowed(_("You are not a recipient of this tip."))
    now = timezone.now()
    Tip.objects.filter(pk=tip.pk).update(
        expires_at=F("expires_at")
        if tip.expires_at > _expiry(tip.channel, now)
        else _expiry(tip.channel, now),
        warned_at=None,
    )
    audit_append(actor=user, action="tips.extended", object_type="tip", object_id=str(tip.pk))

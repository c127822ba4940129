"""Reads for the tip line: a tip's conversation opened with its private key, and the inbox."""

import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from sereno.tips import conf, crypto
from sereno.tips.cleaning.reasons import REASONS
from sereno.tips.models import Entry, Tip, TipAccess, TipFile


@dataclass
class FileView:
    id: int
    status: str
    status_label: str
    name: str
    size: int
    sha256: str
    reason: str
    has_original: bool
    has_derivative: bool
    derivative_name: str = ""


@dataclass
class EntryView:
    id: int
    kind: str
    created_at: object
    from_source: bool
    text: str = ""
    answers: list = field(default_factory=list)
    files: list = field(default_factory=list)


def _open_json(private_key: bytes, blob: bytes) -> dict:
    return json.loads(crypto.open_sealed(private_key, blob))


def file_meta(private_key: bytes, tip_file: TipFile) -> dict:
    return _open_json(private_key, tip_file.sealed_meta)


def reason_text(meta: dict) -> str:
    """Why a file ended as it did, in the reader's language (older tips stored the text)."""
    code = meta.get("reason_code")
    if code is None:
        return meta.get("reason", "")
    return str(REASONS.get(code, REASONS["failed"]))


def conversation(*, tip: Tip, private_key: bytes) -> list[EntryView]:
    files_by_entry: dict[int, list[FileView]] = {}
    for tip_file in tip.files.all():
        meta = file_meta(private_key, tip_file)
        files_by_entry.setdefault(tip_file.entry_id, []).append(
            FileView(
                id=tip_file.pk,
                status=tip_file.status,
                status_label=str(TipFile.Status(tip_file.status).label),
                name=meta.get("name", ""),
                size=meta.get("size", 0),
                sha256=meta.get("sha256", ""),
                reason=reason_text(meta),
                has_original=bool(tip_file.original_path),
                has_derivative=bool(tip_file.derivative_path),
                derivative_name=meta.get("derivative_name", ""),
            )  # fmt: skip
        )
    out = []
    for entry in tip.entries.all():
        body = _open_json(private_key, entry.sealed)
        out.append(
            EntryView(
                id=entry.pk,
                kind=entry.kind,
                created_at=entry.created_at,
                from_source=entry.kind != Entry.Kind.REPLY,
                text=body.get("text", ""),
                answers=body.get("answers", []),
                files=files_by_entry.get(entry.pk, []),
            )  # fmt: skip
        )
    return out


def inbox(*, user):
    """The recipient's tips, newest activity first, each with `unread` and `expiring`."""
    access = TipAccess.objects.filter(tip=OuterRef("pk"), user=user)
    unread = TipAccess.objects.filter(tip=OuterRef("pk"), user=user).filter(
        Q(last_read_at__isnull=True) | Q(last_read_at__lt=OuterRef("last_activity_at"))
    )
    soon = timezone.now() + timedelta(hours=conf.get("TIPS_WARN_HOURS"))
    return (
        Tip.objects.filter(Exists(access))
        .select_related("channel")
        .annotate(unread=Exists(unread))
        .annotate(expiring=Q(expires_at__lte=soon))
        .order_by("-unread", F("last_activity_at").desc())
    )


def tip_for_recipient(*, user, tip_id) -> Tip | None:
    return Tip.objects.filter(pk=tip_id, accesses__user=user).select_related("channel").first()

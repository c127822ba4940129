"""Tamper-evident audit log.

Each row's hash is an HMAC (keyed with AUDIT_KEY, kept outside the database) over its content
and the previous row's hash. An edited row no longer matches its hash, an inserted or deleted
row breaks the sequence or the links, and the head row notices a deleted tail.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from sereno.accounts.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def _plain(value):
    """JSON-safe copy, so that what is hashed is exactly what the database gives back."""
    return None if value is None else json.loads(_canonical(value))


def entry_hash(
    *, seq: int, created_at: datetime, actor_id: int | None, actor_name: str, action: str,
    object_type: str, object_id: str, reason: str, before, after, prev_hash: str,
) -> str:  # fmt: skip
    payload = _canonical(
        [seq, created_at.isoformat(timespec="microseconds"), actor_id, actor_name, action,
         object_type, object_id, reason, before, after, prev_hash]
    )  # fmt: skip
    return hmac.new(settings.AUDIT_KEY, payload.encode(), hashlib.sha256).hexdigest()


def audit_append(
    *, actor, action: str, object_type: str = "", object_id: str = "", reason: str = "",
    before=None, after=None,
) -> AuditEntry:  # fmt: skip
    """Append one row. Call inside the transaction that makes the change being recorded."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        created_at = timezone.now()
        fields = {
            "seq": head.seq + 1,
            "created_at": created_at,
            "actor_id": getattr(actor, "pk", None),
            "actor_name": getattr(actor, "username", "") or "system",
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "reason": reason,
            "before": _plain(before),
            "after": _plain(after),
            "prev_hash": head.hash,
        }
        digest = entry_hash(**fields)
        entry = AuditEntry.objects.create(hash=digest, **fields)
        AuditHead.objects.filter(id=1).update(seq=entry.seq, hash=digest)
    return entry


@dataclass
class Problem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.message}"


def audit_verify(batch: int = 5000) -> tuple[int, list[Problem]]:
    """Walk the whole chain. Returns (rows checked, problems found)."""
    problems: list[Problem] = []
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    last = 0
    while True:
        rows = list(AuditEntry.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not rows:
            break
        for row in rows:
            checked += 1
            if row.seq != expected_seq:
                problems.append(Problem(row.seq, f"sequence jumps from {expected_seq - 1}: "
                                                 "rows deleted or inserted"))  # fmt: skip
            if row.prev_hash != prev_hash:
                problems.append(Problem(row.seq, "does not link to the previous row"))
            recomputed = entry_hash(
                seq=row.seq, created_at=row.created_at, actor_id=row.actor_id,
                actor_name=row.actor_name, action=row.action, object_type=row.object_type,
                object_id=row.object_id, reason=row.reason, before=row.before, after=row.after,
                prev_hash=row.prev_hash,
            )  # fmt: skip
            if not hmac.compare_digest(recomputed, row.hash):
                problems.append(Problem(row.seq, "content was edited (hash mismatch)"))
            expected_seq, prev_hash = row.seq + 1, row.hash
            last = row.seq
    head = AuditHead.objects.filter(id=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != last or head_hash != prev_hash:
        problems.append(Problem(head_seq, f"newest rows missing: chain ends at {last}, "
                                          f"head says {head_seq}"))  # fmt: skip
    return checked, problems

"""The moderation workflow: which status may follow which."""

from sereno.reports.models import Status

TRANSITIONS: dict[str, set[str]] = {
    Status.RECEIVED: {Status.VERIFIED, Status.REJECTED},
    Status.VERIFIED: {Status.PUBLISHED, Status.REJECTED, Status.RECEIVED},
    Status.REJECTED: {Status.RECEIVED},
    Status.PUBLISHED: {Status.ARCHIVED, Status.VERIFIED},
    Status.ARCHIVED: {Status.PUBLISHED},
}


def allowed_sources(target: str) -> set[str]:
    return {source for source, targets in TRANSITIONS.items() if target in targets}


# Moving to these needs a written reason (it is shown in the audit history).
REASON_REQUIRED = {Status.REJECTED, Status.ARCHIVED, Status.RECEIVED}

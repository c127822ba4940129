"""The report history in words: audit actions and field names as staff read them, status
values by their labels. The audit log itself keeps the raw codes."""

from django.utils.translation import gettext_lazy as _

from sereno.reports.models import Status

ACTIONS = {
    "report.received": _("Sent back to review"),
    "report.verified": _("Verified"),
    "report.published": _("Published"),
    "report.rejected": _("Rejected"),
    "report.archived": _("Archived"),
    "report.edit": _("Edited"),
    "report.merge": _("Duplicates merged into this report"),
    "report.merged": _("Merged into another report"),
    "report.comment": _("Comment added"),
    "report.reply": _("Reply sent to the reporter"),
}

FIELDS = {
    "status": _("Status"),
    "title": _("Title"),
    "description": _("Description"),
    "occurred_at": _("When"),
    "occurred_precision": _("Date precision"),
    "latitude": _("Latitude"),
    "longitude": _("Longitude"),
    "location_precision": _("Location precision"),
    "place_name": _("Place"),
    "categories": _("Categories"),
    "sensitive": _("Sensitive"),
    "sensitive_by_moderator": _("Sensitive (moderator)"),
    "involves_minors": _("Involves minors"),
    "killed": _("Killed"),
    "injured": _("Injured"),
    "merged_into": _("Merged into"),
    "sources": _("Merged reports"),
    "comment": _("Comment"),
    "contact": _("Contact"),
    "message": _("Message"),
    "segments": _("SMS segments"),
}


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


def _value(key: str, value):
    if key == "status" and value in Status.values:
        return str(Status(value).label)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def changes(entry) -> list[tuple[str, object, object]]:
    """(field label, before, after) for each field an audit entry mentions."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    return [
        (str(FIELDS.get(key, key)), _value(key, before.get(key)), _value(key, after.get(key)))
        for key in dict.fromkeys([*before, *after])
    ]

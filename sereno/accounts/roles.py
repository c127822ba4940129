"""Roles are groups holding permission sets. Created (and kept in step) after every migrate."""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "admin": [
        "accounts.manage_staff",
        "accounts.view_audit",
        "reports.view_report",
        "reports.moderate_report",
        "reports.view_exact_location",
        "reports.view_reporter_contact",
        "geo.manage_areas",
        "tips.manage_tips",
        "messaging.manage_channels",
        "alerts.draft_alert",
        "alerts.approve_alert",
    ],
    "moderator": [
        "accounts.view_audit",
        "reports.view_report",
        "reports.moderate_report",
        "reports.view_exact_location",
        "reports.view_reporter_contact",
        "alerts.draft_alert",
        "alerts.approve_alert",
    ],
    "analyst": ["reports.view_report", "accounts.view_audit"],
    "caseworker": [],
    "tip_recipient": [],
}
ROLES = list(ROLE_PERMISSIONS)


def ensure_roles(sender=None, **kwargs) -> None:
    # Runs after every app's post_migrate (cheap, idempotent): permissions of later apps exist
    # only once their own post_migrate has run.
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found:
                wanted.append(found)
        group.permissions.set(wanted)

"""Staff authentication for the API: a session with a verified second factor (CSRF-checked),
or a bearer token issued to a staff member. Each router names the permission its staff need:
someone signed in without it is refused (403) before their request is even read."""

from ninja.security import HttpBearer, SessionAuth

from sereno.lib.errors import NotAllowed


def _with_permission(user, permission: str):
    if not user.has_perm(permission):
        from django.utils.translation import gettext as _

        raise NotAllowed(_("You are not allowed to do this."))
    return user


class StaffSession(SessionAuth):
    def __init__(self, permission: str = "reports.view_report"):
        super().__init__()
        self.permission = permission

    def authenticate(self, request, key):
        from sereno.accounts.selectors import staff_verified

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and staff_verified(request):
            return _with_permission(user, self.permission)
        return None


class StaffToken(HttpBearer):
    def __init__(self, permission: str = "reports.view_report"):
        super().__init__()
        self.permission = permission

    def authenticate(self, request, token):
        from sereno.accounts.services import token_authenticate

        user = token_authenticate(token)
        if user is not None and user.is_active:
            request.user = user
            return _with_permission(user, self.permission)
        return None


def staff_auth(permission: str = "reports.view_report") -> list:
    """Token first (API clients), then the browser session."""
    return [StaffToken(permission), StaffSession(permission)]

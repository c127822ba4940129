"""Staff authentication for the API: a session with a verified second factor (CSRF-checked),
or a bearer token issued to a staff member."""

from ninja.security import HttpBearer, SessionAuth


class StaffSession(SessionAuth):
    def authenticate(self, request, key):
        from sereno.accounts.selectors import staff_verified

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and staff_verified(request):
            return user
        return None


class StaffToken(HttpBearer):
    def authenticate(self, request, token):
        from sereno.accounts.services import token_authenticate

        user = token_authenticate(token)
        if user is not None and user.is_active:
            request.user = user
            return user
        return None

"""Headers every response carries: a strict CSP, no referrer, no caching of staff pages."""

import json

from django.conf import settings
from django.http import HttpResponse


def _tile_origin() -> str:
    url = settings.TILE_URL
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host.replace('{s}', '*')}" if rest else ""


STAFF_PREFIXES = ("/staff", "/desk", "/accounts", "/api/v1/staff")


class SafetyHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        tiles = _tile_origin()
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: blob: {tiles}; connect-src 'self'; font-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        # Public pages: no referrer at all. Staff pages: "same-origin" — under "no-referrer" a
        # browser posts forms with "Origin: null", which the CSRF check (rightly) refuses, and
        # the sign-in and desk forms need that check; "same-origin" still tells no other site
        # (such as the tile server) anything.
        staff = request.path.startswith(STAFF_PREFIXES)
        response.headers.setdefault("Referrer-Policy", "same-origin" if staff else "no-referrer")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), interest-cohort=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if staff:
            response.headers["Cache-Control"] = "no-store"
        return response


class BodyLimitMiddleware:
    """Refuse a body that announces itself too large (413) before a byte of it is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BYTES
        if length > limit:
            from django.utils.translation import gettext as _

            message = _("The request is too large (at most %(mb)d MB).") % {
                "mb": limit // (1024 * 1024)
            }
            body = json.dumps({"error": {"code": "too_large", "message": message}})
            return HttpResponse(body, status=413, content_type="application/json")
        return self.get_response(request)

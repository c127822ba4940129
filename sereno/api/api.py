"""The JSON API under /api/v1: one NinjaAPI, one error format, routers from each app.

Every error is `{"error": {"code", "message", "field"?, "details"?}}` with the message in the
request's language.
"""

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from sereno.api.auth import staff_auth
from sereno.lib.errors import SerenoError, TooMany

api = NinjaAPI(
    title="Sereno API",
    version="1",
    urls_namespace="api",
    description="Public and staff API of Sereno. Errors: {error: {code, message, field}}.",
)


def error_response(request, status: int, code: str, message: str, field=None, details=None):
    body = {"code": code, "message": str(message)}
    if field:
        body["field"] = field
    if details:
        body["details"] = details
    return api.create_response(request, {"error": body}, status=status)


@api.exception_handler(SerenoError)
def _sereno_error(request, exc: SerenoError):
    response = error_response(request, exc.status, exc.code, exc.message, exc.field, exc.details)
    if isinstance(exc, TooMany):
        response["Retry-After"] = str(exc.retry_after)
    return response


# Pydantic's own messages are English only: give each common kind a translated one.
def _validation_message(kind: str, ctx: dict) -> str:
    messages = {
        "missing": _("This field is required."),
        "json_invalid": _("The body is not valid JSON."),
        "float_parsing": _("Must be a number."),
        "float_type": _("Must be a number."),
        "finite_number": _("Must be a finite number."),
        "int_parsing": _("Must be a whole number."),
        "int_type": _("Must be a whole number."),
        "bool_parsing": _("Must be true or false."),
        "string_type": _("Must be text."),
        "list_type": _("Must be a list."),
        "datetime_parsing": _("Must be a date and time (ISO 8601)."),
        "datetime_from_date_parsing": _("Must be a date and time (ISO 8601)."),
        "date_parsing": _("Must be a date (YYYY-MM-DD)."),
        "date_from_datetime_parsing": _("Must be a date (YYYY-MM-DD)."),
        "enum": _("Not one of the allowed values."),
        "literal_error": _("Not one of the allowed values."),
        "extra_forbidden": _("Unknown field."),
        "model_attributes_type": _("Must be a JSON object."),
        "dict_type": _("Must be a JSON object."),
    }
    if kind == "string_too_long":
        return _("At most %(max)d characters.") % {"max": ctx.get("max_length", 0)}
    if kind in ("too_long", "list_too_long"):
        return _("Too many items.")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _("Value out of range.")
    return messages.get(kind, _("Invalid value."))


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    errors = []
    for item in exc.errors:
        loc = [
            str(part) for part in item.get("loc", ()) if part not in ("body", "query", "payload")
        ]
        errors.append({
            "field": ".".join(loc),
            "message": _validation_message(item.get("type", ""), item.get("ctx") or {}),
        })  # fmt: skip
    first = errors[0] if errors else {"field": "", "message": _("Invalid request.")}
    return error_response(
        request, 422, "invalid_input", first["message"], first["field"] or None,
        {"errors": errors},
    )  # fmt: skip


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(request, 401, "unauthenticated", _("Log in as staff (with 2FA)."))


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return error_response(request, exc.status_code, "http_error", str(exc))


@api.get("/health", auth=None, tags=["public"])
def health(request: HttpRequest):
    """Liveness and readiness: the database answers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "database": connection.vendor, "version": api.version}


@api.get("/ping", auth=None, tags=["public"], include_in_schema=False)
def ping(request: HttpRequest):
    """The trivial endpoint the intake benchmark compares against."""
    return {"pong": True}


STAFF_AUTH = staff_auth("reports.view_report")

from sereno.crowdmap.api import router as map_router  # noqa: E402
from sereno.reports.api import public_router, staff_router  # noqa: E402

api.add_router("/", public_router)
api.add_router("/", map_router)
api.add_router("/staff", staff_router, auth=STAFF_AUTH)

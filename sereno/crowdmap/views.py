"""The public map page, the report form (plain POST, better with JavaScript) and the offline
service worker. Views parse input, call one service or selector, and render."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sereno.crowdmap.forms import MapFilterForm, ReportForm, new_token
from sereno.lib import ratelimit
from sereno.lib.errors import InvalidInput, TooMany
from sereno.reports import selectors, services
from sereno.reports.models import Report
from sereno.reports.schemas import occurred_text

HONDURAS = (14.75, -86.6, 7)  # lat, lon, zoom of the default view


def _view_from(request) -> tuple[float, float, int]:
    try:
        lat = max(-85.0, min(85.0, float(request.GET["lat"])))
        lon = max(-180.0, min(180.0, float(request.GET["lon"])))
        zoom = max(3, min(18, int(request.GET["z"])))
    except (KeyError, ValueError):
        return HONDURAS
    return lat, lon, zoom


def map_page(request):
    """Home page: the map (JavaScript) over the list of matching published reports (works
    without JavaScript, and is the map's text alternative). The URL is the shareable view."""
    form = MapFilterForm(request.GET or None)
    values = form.cleaned_or_empty() if request.GET else {}
    filters = selectors.ReportFilters(
        category=values.get("category") or None,
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
        department=values.get("department") or None,
    )
    page = Paginator(selectors.public_reports(filters), 20).get_page(request.GET.get("page"))
    rows = [(report, occurred_text(report)) for report in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    lat, lon, zoom = _view_from(request)
    return render(
        request,
        "crowdmap/map.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "view": {"lat": lat, "lon": lon, "zoom": zoom, "set": "z" in request.GET},
            "tile_url": settings.TILE_URL,
        },
    )


def _language() -> str:
    return "en" if (get_language() or "").startswith("en") else "es"


@csrf_exempt  # anonymous and idempotent; a report queued offline for days must still go
def report_form(request):
    """Report form. The hidden one-time token becomes the report's intake key, so a double
    POST (a second tap, a reload, a retry on a slow network) never creates two reports.
    The page's script posts the same fields (answer in JSON) with an `Idempotency-Key`."""
    if request.method == "POST":
        data = request.POST.copy()
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if key:
            data["token"] = key
        form = ReportForm(data, request.FILES)
        wants_json = "application/json" in request.headers.get("Accept", "")
        if form.is_valid():
            report = _submit(request, form)
            if report is not None:
                if wants_json:
                    return JsonResponse({"reference": report.reference}, status=201)
                return render(request, "crowdmap/sent.html", {"report": report})
        if wants_json:
            return JsonResponse({"errors": form.errors.get_json_data()}, status=422)
        return render(request, "crowdmap/report_form.html", _form_context(form), status=422)
    form = ReportForm(initial={"token": new_token()})
    return render(request, "crowdmap/report_form.html", _form_context(form))


def _submit(request, form: ReportForm) -> Report | None:
    intake_key = f"web:{form.cleaned_data['token']}"
    existing = Report.objects.filter(intake_key=intake_key).only("reference").first()
    if existing:
        return existing
    photo = form.cleaned_data.get("photo")
    try:
        ratelimit.hit("report", ratelimit.client_key(request), settings.RATE_REPORTS)
        report, _created = services.report_create(
            data=form.report_input(language=_language()),
            intake_key=intake_key,
            files=[photo] if photo else [],
        )
    except InvalidInput as error:
        form.add_error(form.field_for(error.field), error.message)
        return None
    except TooMany as error:
        form.add_error(None, error.message)
        return None
    return report


def _form_context(form: ReportForm) -> dict:
    return {"form": form, "tile_url": settings.TILE_URL}


@require_GET
def language(request, code: str):
    """Switch language with a plain link. Django's set_language needs a CSRF-checked POST, and
    with `Referrer-Policy: no-referrer` browsers send `Origin: null` on form posts, which the
    CSRF check refuses; a language cookie is harmless to set from a GET."""
    next_url = request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if code in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            secure=settings.LANGUAGE_COOKIE_SECURE or request.is_secure(),
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
        )
    return response


@require_GET
@never_cache
def service_worker(request):
    """Served from the site root so that its scope covers every page (the form included)."""
    body = render_to_string("crowdmap/sw.js", request=request)
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response

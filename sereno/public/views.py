"""The public site: latest published reports and a page per report (public fields only)."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render

from sereno.geo import gazetteer
from sereno.lib.errors import NotFound
from sereno.reports import selectors
from sereno.reports.schemas import H3_EDGE_M, occurred_text


def home(request):
    qs = selectors.public_reports(selectors.ReportFilters())
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    rows = [(report, occurred_text(report)) for report in page.object_list]
    return render(request, "public/home.html", {"page": page, "rows": rows})


def report_page(request, reference: str):
    try:
        report = selectors.public_report(reference)
    except NotFound as error:
        raise Http404(error.message) from error
    place = report.place_name
    if report.sensitive and report.public_latitude is not None:
        nearest = gazetteer.nearest_place(report.public_latitude, report.public_longitude)
        place = nearest.name if nearest else ""
    return render(
        request,
        "public/report.html",
        {
            "report": report,
            "occurred": occurred_text(report),
            "place": place,
            "department": gazetteer.department_name(report.department_code),
            "radius": H3_EDGE_M.get(report.public_resolution or 0, 0),
            "media": [m for m in report.media.all() if m.state == "clean"],
        },
    )

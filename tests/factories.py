"""Small helpers to make reports the way users do: through the intake service."""

from datetime import timedelta

from django.utils import timezone

from sereno.reports.services import ReportInput, report_create, report_transition

TEGUCIGALPA = (14.0818, -87.2068)


def report_input(**overrides) -> ReportInput:
    values = {
        "title": "Asalto en la parada de buses",
        "description": "Dos hombres armados asaltaron a los pasajeros.",
        "occurred_at": timezone.now() - timedelta(days=1),
        "categories": ["robo-asalto"],
        "latitude": TEGUCIGALPA[0],
        "longitude": TEGUCIGALPA[1],
        "location_precision": "exact",
    }
    values.update(overrides)
    return ReportInput(**values)


def make_report(**overrides):
    report, _ = report_create(data=report_input(**overrides))
    return report


def publish(report, actor):
    report_transition(actor=actor, report_id=report.pk, to_status="verified")
    return report_transition(actor=actor, report_id=report.pk, to_status="published")

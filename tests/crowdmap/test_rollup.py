"""The rollup stays equal to a recount from scratch whatever moderators do, on both
databases; the margin it relies on holds over Honduras."""

import random
from datetime import timedelta

import h3
import pytest
from django.core.management import call_command
from django.utils import timezone

from sereno.crowdmap import selectors
from sereno.crowdmap.models import MapCount
from sereno.crowdmap.services import POINTS, map_rebuild, map_track
from sereno.geo.services import PUBLIC_RESOLUTION, public_point
from sereno.lib.errors import SerenoError
from sereno.reports import services
from sereno.reports.models import Report
from tests.crowdmap.helpers import assert_rollup_exact, rollup_rows
from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db(transaction=False)

CATEGORIES = ["homicidio", "sicariato", "robo-asalto", "extorsion", "violencia-domestica",
              "amenazas"]  # fmt: skip


def test_random_moderation_keeps_the_rollup_exact(moderator):
    rng = random.Random(11)
    reports = []
    for i in range(30):
        report = make_report(
            latitude=14.08 + rng.uniform(-0.2, 0.2), longitude=-87.2 + rng.uniform(-0.2, 0.2),
            categories=rng.sample(CATEGORIES, rng.choice([1, 2])),
            occurred_at=timezone.now() - timedelta(days=rng.randint(0, 30), hours=i),
        )  # fmt: skip
        if i % 3:
            publish(report, moderator)
        reports.append(report)
    ids = [r.pk for r in reports]
    for step in range(120):
        pk = rng.choice(ids)
        action = rng.random()
        try:
            if action < 0.35:
                status = rng.choice(["received", "verified", "published", "archived", "rejected"])
                services.report_transition(actor=moderator, report_id=pk, to_status=status,
                                           reason="prueba")  # fmt: skip
            elif action < 0.45:
                services.report_bulk_transition(
                    actor=moderator, report_ids=rng.sample(ids, 4),
                    to_status=rng.choice(["published", "verified", "archived"]), reason="lote",
                )  # fmt: skip
            elif action < 0.8:
                changes = rng.choice([
                    {"latitude": 14.08 + rng.uniform(-0.3, 0.3),
                     "longitude": -87.2 + rng.uniform(-0.3, 0.3)},
                    {"categories": rng.sample(CATEGORIES, rng.choice([1, 2, 3]))},
                    {"occurred_at": timezone.now() - timedelta(days=rng.randint(0, 60))},
                    {"location_precision": rng.choice(["exact", "place", "municipality",
                                                       "department"])},
                    {"sensitive_by_moderator": rng.choice([True, False])},
                    {"latitude": None, "longitude": None},
                ])  # fmt: skip
                services.report_edit(actor=moderator, report_id=pk, changes=changes)
            else:
                sources = rng.sample([i for i in ids if i != pk], rng.choice([1, 2]))
                services.report_merge(actor=moderator, target_id=pk, source_ids=sources)
        except SerenoError:
            pass  # refused transitions and merges change nothing, the rollup included
        if step % 30 == 29:
            assert_rollup_exact()
    assert Report.objects.filter(status="published").exists()
    assert Report.objects.filter(merged_into__isnull=False).exists()
    assert_rollup_exact()


def test_a_failed_change_leaves_the_rollup_alone(moderator):
    report = publish(make_report(), moderator)
    before = rollup_rows()
    with pytest.raises(RuntimeError):
        with map_track([report.pk]):
            Report.objects.filter(pk=report.pk).update(status="archived")
            raise RuntimeError
    assert rollup_rows() == before
    assert Report.objects.get(pk=report.pk).status == "published"


def test_rows_reach_zero_and_disappear(moderator):
    report = publish(make_report(), moderator)
    assert MapCount.objects.filter(resolution=POINTS).count() == 4
    services.report_transition(actor=moderator, report_id=report.pk, to_status="archived",
                               reason="x")  # fmt: skip
    assert not MapCount.objects.exists()


def test_rebuild_command_and_demo_loader(capsys):
    from sereno.reports.demo import load

    load(reports=400, seed=5)  # the bulk path rebuilds the rollup at its end
    published = Report.objects.filter(status="published").count()
    totals = MapCount.objects.filter(cube=0, resolution=0).values_list("count", flat=True)
    assert list(totals) == [published]
    rows = rollup_rows()
    MapCount.objects.filter(resolution=4).delete()
    call_command("rebuild_map")
    assert "Map rebuilt" in capsys.readouterr().out
    assert rollup_rows() == rows


def test_rebuild_of_nothing():
    assert map_rebuild()["rows"] == 0


def test_margin_holds_over_honduras():
    """Every public point is within the margin of the centre of its cell at 4, 6 and 8 (the
    viewport split relies on it). Measured worst case is well below MARGIN_EDGES."""
    rng = random.Random(5)
    worst = 0.0
    for _ in range(3000):
        lat, lon = rng.uniform(12.9, 16.6), rng.uniform(-89.5, -83.0)
        precision = rng.choice(list(PUBLIC_RESOLUTION))
        plat, plon, _res, cells = public_point(lat, lon, precision=precision,
                                               sensitive=rng.random() < 0.3)  # fmt: skip
        for resolution in (4, 6, 8):
            clat, clon = h3.api.basic_int.cell_to_latlng(cells[resolution])
            dlat, dlon = selectors._margin(resolution, (plon, plat, plon, plat))
            worst = max(worst, abs(plat - clat) / dlat, abs(plon - clon) / dlon)
    assert worst < 0.75, worst  # of the margin: room to spare

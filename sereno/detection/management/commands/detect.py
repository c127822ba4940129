"""`sereno detect`: scan SaTScan-format files and print SaTScan-style results, or run Sereno's
detectors over the reports now."""

import os
from dataclasses import replace
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sereno.detection.scan import ScanParams, scan
from sereno.detection.scan import satscan as ss


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Prospective space-time permutation scan (SaTScan files) or Sereno's detection run."

    def add_arguments(self, parser):
        parser.add_argument("--satscan-cas", type=Path, help="SaTScan case file: id count date")
        parser.add_argument("--satscan-geo", type=Path, help="SaTScan coordinates: id lat lon")
        parser.add_argument("--prm", type=Path, help="SaTScan parameter file (settings we use)")
        parser.add_argument("--replicates", type=int)
        parser.add_argument("--max-spatial-share", type=_share, help="of all cases (0.5)")
        parser.add_argument("--max-temporal-share", type=_share, help="of the study period")
        parser.add_argument("--max-window-days", type=int)
        parser.add_argument("--max-km", type=float, help="cap on the radius; 0: none")
        parser.add_argument("--start", type=ss.parse_date, help="YYYY/MM/DD")
        parser.add_argument("--end", type=ss.parse_date, help="YYYY/MM/DD (the last day)")
        parser.add_argument("--seed", type=int, default=12345)
        parser.add_argument("--early-stop", type=int, help="0: run every replicate")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)

    def handle(self, *args, **opts):
        if not (opts["satscan_cas"] or opts["satscan_geo"]):
            return self._run_sereno()
        if not (opts["satscan_cas"] and opts["satscan_geo"]):
            raise CommandError("give both --satscan-cas and --satscan-geo")
        try:
            text = self._run_files(opts)
        except (OSError, ss.SatscanError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(text, ending="")

    def _run_files(self, opts) -> str:
        params = ScanParams(seed=opts["seed"], workers=opts["workers"])
        study = ss.Study()
        if opts["prm"]:
            study, params = ss.read_prm(opts["prm"], params)
        if opts["max_temporal_share"] is not None:
            study = replace(study, max_temporal_share=opts["max_temporal_share"])
            study = replace(study, max_window_days=None)
        if opts["max_window_days"] is not None:
            study = replace(study, max_window_days=opts["max_window_days"])
        ids, coords = ss.read_geo(opts["satscan_geo"])
        rows = ss.read_cas(opts["satscan_cas"])
        inp, start = ss.build_input(
            ids, coords, rows, opts["start"] or study.start, opts["end"] or study.end,
            study.geographic,
        )  # fmt: skip
        overrides = {
            "max_window_days": ss.window_days(study, inp.n_days),
            "replicates": opts["replicates"],
            "max_spatial_share": opts["max_spatial_share"],
            "max_km": opts["max_km"],
            "early_stop": opts["early_stop"],
        }
        params = replace(params, **{k: v for k, v in overrides.items() if v is not None})
        if opts["max_km"] == 0:
            params = replace(params, max_km=None)
        return ss.report(scan(inp, params), inp, params, start)

    def _run_sereno(self):
        from sereno.detection.services import detection_run

        run = detection_run()
        self.stdout.write(
            f"run {run.pk}: {run.state}, {run.cases} reports, {run.signals_found} signals, "
            f"{run.replicates_done} replicates, {run.duration_seconds:.1f} s"
        )
        if run.state != run.State.DONE:
            raise CommandError(f"detection failed: {run.error}")

"""`sereno tor-config`: the torrc lines for an onion service that serves Sereno's tip line."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from sereno.tips.onion import onion_host


class Command(BaseCommand):
    help = "Print the torrc lines for a Tor onion service pointing at Sereno."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("SERENO_PORT", "8000")),
            help="the local port Sereno listens on (sereno serve --port)",
        )  # fmt: skip
        parser.add_argument("--host", default="127.0.0.1", help="the local address of Sereno")
        parser.add_argument(
            "--dir", default=str(Path(settings.DATA_DIR) / "tor" / "sereno"),
            help="HiddenServiceDir: where tor keeps the service's keys and hostname",
        )  # fmt: skip

    def handle(self, *args, **options):
        directory = Path(options["dir"]).resolve()
        target = f"{options['host']}:{options['port']}"
        lines = [
            "## Sereno: onion service for the tip line. Add to /etc/tor/torrc, restart tor.",
            "## The directory must belong to the user tor runs as, mode 700, e.g. on Debian:",
            f"##   sudo install -d -m 700 -o debian-tor -g debian-tor {directory}",
            "## (Debian's AppArmor profile lets tor write only below /var/lib/tor; if tor",
            "##  refuses this directory, print again with --dir /var/lib/tor/sereno.)",
            f"HiddenServiceDir {directory}/",
            "HiddenServiceVersion 3",
            f"HiddenServicePort 80 {target}",
            "## Defences against floods of connections (proof of work needs tor >= 0.4.8):",
            "HiddenServiceEnableIntroDoSDefense 1",
            "HiddenServicePoWDefensesEnabled 1",
            "HiddenServiceMaxStreams 64",
            "HiddenServiceMaxStreamsCloseCircuit 1",
            "## Never add HiddenServiceNonAnonymousMode or HiddenServiceSingleHopMode: a",
            "## single-hop service can be located, which defeats the purpose.",
            "##",
            f"## Sereno must listen on {options['host']} only (sereno serve --host 127.0.0.1),",
            "## so that nothing but tor (and your reverse proxy, if any) reaches it.",
            f"## The address appears in {directory}/hostname once tor has started. Then set:",
            "##   SERENO_ONION_HOST=<that address>    (also becomes an allowed host)",
            "##   SERENO_TIPS_ONION_ONLY=true         (the tip line refuses other addresses)",
        ]
        address = self._current_address(directory)
        if address:
            lines.append(f"## This service's address now: {address}")
            if address != onion_host():
                lines.append(f"## SERENO_ONION_HOST is {onion_host() or 'not set'}: set it to it.")
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _current_address(directory: Path) -> str:
        try:
            return (directory / "hostname").read_text().strip().lower()
        except OSError:
            return ""

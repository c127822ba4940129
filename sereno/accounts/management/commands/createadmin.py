"""Create an admin with a random password and a confirmed TOTP device; print both once.

Safe to run on every start (`make run`): an existing username is left alone.
"""

from django.core.management.base import BaseCommand, CommandError

from sereno.accounts.models import User
from sereno.accounts.services import admin_create
from sereno.lib.errors import SerenoError


class Command(BaseCommand):
    help = "Create an admin (random password, TOTP) and print the credentials once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--if-none", action="store_true", help="do nothing if any admin already exists"
        )

    def handle(self, *args, username: str, email: str, if_none: bool, **options):
        if if_none and User.objects.filter(groups__name="admin").exists():
            self.stdout.write("An admin already exists; nothing changed.")
            return
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"User {username!r} already exists; nothing changed.")
            return
        try:
            user, password, device = admin_create(username=username, email=email)
        except SerenoError as exc:
            raise CommandError(exc.message) from exc
        uri = device.config_url
        self.stdout.write(
            "\n".join(
                [
                    "Admin created. This is shown ONCE: store it in a password manager now.",
                    f"  login:    {user.username}",
                    f"  password: {password}",
                    "  TOTP:     add this to an authenticator app (scan the code below or",
                    "            open the URI on the phone); sign-in needs its 6-digit code.",
                    f"  {uri}",
                    "",
                ]
            )
        )
        self._print_qr(uri)

    def _print_qr(self, uri: str) -> None:
        import io

        import qrcode

        qr = qrcode.QRCode(border=1)
        qr.add_data(uri)
        buffer = io.StringIO()
        qr.print_ascii(out=buffer, invert=True)
        self.stdout.write(buffer.getvalue())

from django.core.management.base import BaseCommand, CommandError

from sereno.accounts.models import User
from sereno.accounts.services import token_create
from sereno.lib.errors import SerenoError


class Command(BaseCommand):
    help = "Create a staff API token for a user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", required=True, help="what the token is for")

    def handle(self, *args, username: str, name: str, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        try:
            token, raw = token_create(user=user, name=name)
        except SerenoError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Token {token.name!r} for {user.username} (shown once, store it now):")
        self.stdout.write(raw)

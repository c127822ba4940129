from django.core.management.base import BaseCommand, CommandError

from sereno.accounts.audit import audit_verify


class Command(BaseCommand):
    help = "Check the audit log's hash chain; exit 1 if a row was edited, added or removed."

    def handle(self, *args, **options):
        checked, problems = audit_verify()
        if not problems:
            self.stdout.write(f"audit log OK: {checked} rows")
            return
        for problem in problems:
            self.stdout.write(str(problem))
        raise CommandError(f"audit log damaged: {len(problems)} problem(s) in {checked} rows")

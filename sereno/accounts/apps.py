from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "sereno.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from sereno.accounts.roles import ensure_roles

        post_migrate.connect(ensure_roles, dispatch_uid="sereno.accounts.ensure_roles")

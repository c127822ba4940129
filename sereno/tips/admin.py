from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sereno.tips.models import Channel, Question


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0
    fields = [
        ("order", "kind", "required"), ("label", "label_en"), ("help", "help_en"),
        ("choices", "choices_en"),
    ]  # fmt: skip


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active", "retention_days", "recipient_count"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["recipients"]
    inlines = [QuestionInline]
    fields = [
        ("name", "name_en"), "slug", ("description", "description_en"),
        ("active", "allow_files"), "retention_days", "order", "recipients",
    ]  # fmt: skip

    @admin.display(description=_("recipients"))
    def recipient_count(self, obj) -> int:
        return obj.recipients.count()

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "recipients":
            from sereno.accounts.models import User

            kwargs["queryset"] = User.objects.filter(groups__name="tip_recipient", is_active=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _allowed(self, request) -> bool:
        return request.user.is_active and request.user.has_perm("tips.manage_tips")

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    has_add_permission = has_change_permission = has_view_permission

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request) and (obj is None or not obj.tips.exists())

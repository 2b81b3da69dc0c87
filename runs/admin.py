from django.contrib import admin
from django.http import HttpRequest

from runs.models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs are read-only here: their status changes only through the run's lifecycle."""

    list_display = ["public_id", "organization", "run_type", "status", "title", "created_at"]
    list_filter = ["status", "run_type", "engine", "organization", "created_at"]
    search_fields = ["public_id", "prompt", "title"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Run | None = None) -> list[str]:
        return [field.name for field in Run._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Run | None = None) -> bool:
        return False

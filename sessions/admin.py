from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sessions.models import BrowserSession


@admin.register(BrowserSession)
class BrowserSessionAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "organization",
        "runnable_id",
        "created_at",
        "expires_at",
        "deleted_at",
    ]
    list_filter = ["organization", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["public_id"]
    readonly_fields = ["public_id", "created_at", "modified_at", "expires_at", "deleted_at"]
    actions = ["close_sessions"]

    @admin.action(description="Close selected browser sessions")
    def close_sessions(self, request: HttpRequest, queryset: QuerySet[BrowserSession]) -> None:
        closed = sum(session.close() for session in queryset)
        self.message_user(request, f"Closed {closed} browser session(s).")

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from sessions.models import BrowserSession
from sessions.services import close_session


@admin.register(BrowserSession)
class BrowserSessionAdmin(admin.ModelAdmin):
    """Sessions are looked at and closed here, never edited: their fields describe a live
    browser process (its host, pid, CDP address), which only its lifecycle may change."""

    list_display = [
        "public_id",
        "organization",
        "status",
        "runnable_id",
        "host",
        "created_at",
        "expires_at",
        "deleted_at",
    ]
    list_filter = ["status", "organization", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["public_id", "runnable_id"]
    actions = ["close_sessions"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: BrowserSession | None = None
    ) -> list[str]:
        return [field.name for field in BrowserSession._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a row alone would be a session without a browser

    @admin.action(description="Close selected browser sessions")
    def close_sessions(self, request: HttpRequest, queryset: QuerySet[BrowserSession]) -> None:
        # As the API and the dashboard close them: the browser ends, its runs are canceled.
        reason = f"Closed in the admin panel by {request.user.get_username()}"
        closed = sum(close_session(session, reason) for session in queryset)
        self.message_user(request, f"Closed {closed} browser session(s).")

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found

from dashboard import views
from dashboard.api import api

accounts = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

settings_urls = [
    path("", views.settings_page, name="settings"),
    path("api-keys/", views.api_key_create, name="api-key-create"),
    path("api-keys/<int:key_pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("webhook-secret/rotate/", views.webhook_secret_rotate, name="webhook-secret-rotate"),
    path("members/", views.member_add, name="member-add"),
    path("members/<int:membership_pk>/role/", views.member_role, name="member-role"),
    path("members/<int:membership_pk>/remove/", views.member_remove, name="member-remove"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include(accounts)),
    path("organization/switch/", views.switch, name="switch-organization"),
    path("runs/", include("runs.urls")),
    path("sessions/", include("sessions.urls")),
    path("settings/", include(settings_urls)),
    path("admin/", admin.site.urls),
    path("", api.urls),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    # API clients get FastAPI's JSON 404 for unknown paths, people get the page.
    if request.path.startswith("/v1/"):
        return JsonResponse({"detail": "Not Found"}, status=404)
    return page_not_found(request, exception)

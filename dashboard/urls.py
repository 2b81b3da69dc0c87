from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.defaults import page_not_found

from dashboard import views
from dashboard.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("", api.urls),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    # API clients get FastAPI's JSON 404 for unknown paths, people get the page.
    if request.path.startswith("/v1/"):
        return JsonResponse({"detail": "Not Found"}, status=404)
    return page_not_found(request, exception)

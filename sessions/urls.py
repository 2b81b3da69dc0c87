"""Dashboard URLs of browser sessions (the API's are in sessions/api.py under /v1/)."""

from django.urls import path

from sessions import views

urlpatterns = [
    path("", views.session_list, name="session-list"),
    path("new/", views.session_new, name="session-new"),
    path("<str:session_id>/close/", views.session_close, name="session-close"),
    path("<str:session_id>/screenshot", views.session_screenshot, name="session-screenshot"),
]

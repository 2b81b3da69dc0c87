"""Dashboard URLs of runs (the API's are in runs/api.py under /v1/)."""

from django.urls import path

from runs import views

urlpatterns = [
    path("", views.run_list, name="run-list"),
    path("newer/", views.run_rows_newer, name="run-rows-newer"),
    path("new/", views.new_task, name="run-new"),
    path("<str:run_id>/", views.run_detail, name="run-detail"),
    path("<str:run_id>/row/", views.run_row, name="run-row"),
    path("<str:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("<str:run_id>/again/", views.run_again, name="run-again"),
    path("<str:run_id>/output.json", views.run_output, name="run-output"),
    path("<str:run_id>/artifacts/<str:artifact_id>/", views.run_artifact, name="run-artifact"),
]

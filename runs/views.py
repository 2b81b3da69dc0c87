"""Dashboard pages of runs: the table, a run's page, the new-task form, and their actions.

Live updates are HTMX polling that ends by itself: a row or a run page polls only
while its run is not final, and the run page answers 204 (nothing to swap) when
nothing changed since the version the browser shows, so a person reading the
timeline is not disturbed and screen readers hear only real changes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pydantic import ValidationError

from dashboard.access import (
    current_organization,
    get_artifact_for_user,
    get_run_for_user,
)
from dashboard.errors import FieldErrors, NotFound
from dashboard.models import Organization
from dashboard.pages import htmx_render
from dashboard.urlcheck import InvalidURL
from runs.api import timeline_entry
from runs.forms import RunFilterForm, TaskForm, initial_from_request
from runs.models import ACTIVE_STATUSES, ArtifactKind, Run, RunType
from runs.schemas import TaskRunRequest
from runs.services import (
    URL_FIELDS,
    artifact_file_response,
    create_task_run,
    normalized_task_fields,
)
from sessions.models import BrowserSession

PAGE_SIZE = 25
ROW_POLL = "every 2s"
LIVE_POLL = "every 2s"
SETTLE_SECONDS = 30
NEWER_POLL = "every 3s"


# --- the runs table --------------------------------------------------------------------


def _filtered_runs(organization: Organization, form: RunFilterForm) -> QuerySet[Run]:
    runs = Run.objects.for_organization(organization)
    if not form.is_valid():
        return runs
    data = form.cleaned_data
    if data["q"]:
        q = data["q"].strip()
        runs = runs.filter(Q(prompt__icontains=q) | Q(title__icontains=q) | Q(public_id__iexact=q))
    if data["status"] == "active":
        runs = runs.filter(status__in=ACTIVE_STATUSES)
    elif data["status"]:
        runs = runs.filter(status=data["status"])
    if data["run_type"]:
        runs = runs.filter(run_type=data["run_type"])
    if data["created_from"]:
        runs = runs.filter(created_at__date__gte=data["created_from"])
    if data["created_to"]:
        runs = runs.filter(created_at__date__lte=data["created_to"])
    return runs


def _shows_new_runs(form: RunFilterForm, page_number: int) -> bool:
    """New runs can only appear on the first page, and not once the date range has ended."""
    if page_number != 1:
        return False
    end = form.cleaned_data.get("created_to") if form.is_bound and form.is_valid() else None
    return end is None or end >= timezone.localdate()


@login_required
@require_GET
def run_list(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    asked_at = timezone.now()
    form = RunFilterForm(request.GET or None)
    runs = _filtered_runs(organization, form)
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = form.is_bound and form.is_valid() and any(form.cleaned_data.values())
    # New rows are those created after what this page shows (and after it was asked for),
    # so a run is never listed twice.
    newest = max([asked_at, *(run.created_at for run in page.object_list)])
    context = {
        "form": form,
        "page": page,
        "filtered": filtered,
        "live": _shows_new_runs(form, page.number),
        "newest": newest.isoformat(),
        "filter_query": _filter_query(request),
        "poll": ROW_POLL,
        "newer_poll": NEWER_POLL,
        "count": page.paginator.count,
    }
    return htmx_render(request, "runs/list.html", context, "runs-results")


def _filter_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("after", None)
    return query.urlencode()


@login_required
@require_GET
def run_rows_newer(request: HttpRequest) -> HttpResponse:
    """Rows of runs created after `after` that match the filters, newest first, and the
    sentinel row that asks again; the table grows without a reload."""
    organization = current_organization(request)
    after = parse_datetime(request.GET.get("after", "")) or timezone.now()
    form = RunFilterForm(request.GET)
    matching = _filtered_runs(organization, form)
    runs = list(matching.filter(created_at__gt=after)[:PAGE_SIZE])
    newest = max((run.created_at for run in runs), default=after)
    context = {
        "runs": runs,
        "newest": newest.isoformat(),
        "filter_query": _filter_query(request),
        "poll": ROW_POLL,
        "newer_poll": NEWER_POLL,
        # With new rows, the count above the table is sent along (out of band).
        "count": matching.count() if runs else 0,
        "filtered": form.is_valid() and any(form.cleaned_data.values()),
        "live": True,
    }
    return htmx_render(request, "runs/list.html", context, "newer-rows")


@login_required
@require_GET
def run_row(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    return render(request, "runs/list.html#run-row", {"run": run, "poll": ROW_POLL})


# --- one run ---------------------------------------------------------------------------


def live_version(run: Run) -> str:
    """Changes whenever anything the run page shows changes (status, steps, screenshots)."""
    steps = run.steps.aggregate(
        n=Count("id"), finished=Count("finished_at"), last=Max("finished_at")
    )
    artifacts = run.artifacts.count()
    text = f"{run.status}|{run.modified_at.isoformat()}|{steps}|{artifacts}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _timeline(run: Run) -> list[dict[str, Any]]:
    """The steps as the API's timeline has them, plus the screenshot artifact itself."""
    screenshots = {
        artifact.step_id: artifact
        for artifact in run.artifacts.filter(kind=ArtifactKind.SCREENSHOT).select_related(
            "step", "run__organization"
        )
    }
    blocks = []
    for step in run.steps.all():
        block = timeline_entry(run, step, screenshots.get(step.pk))["block"]
        block["screenshot_artifact"] = screenshots.get(step.pk)
        if run.is_final and step.finished_at is None:
            block["status"] = "stopped"  # the run ended during this step
        block["mini_goal"] = step.mini_goal
        block["error"] = step.error
        blocks.append(block)
    return blocks


def is_live(run: Run) -> bool:
    """Whether the run page should keep polling.

    Until the run is final, and a little after: a run canceled mid-step ends at once,
    but its worker records that step (its actions, screenshot) a moment later.
    """
    if not run.is_final:
        return True
    ended = run.finished_at or run.modified_at
    if timezone.now() - ended > timedelta(seconds=SETTLE_SECONDS):
        return False
    return run.steps.filter(finished_at__isnull=True).exists()


def _run_context(run: Run) -> dict[str, Any]:
    steps_taken = run.steps.values("order").distinct().count()
    deliveries = getattr(run, "webhook_deliveries", None)
    return {
        "run": run,
        "live": is_live(run),
        "request_fields": _request_fields(run),
        "steps_taken": steps_taken,
        "timeline": _timeline(run),
        "files": run.artifacts.exclude(kind=ArtifactKind.SCREENSHOT),
        "has_output": run.output is not None,
        "output_json": json.dumps(run.output, indent=2, ensure_ascii=False),
        "duration": (run.finished_at or timezone.now()) - run.started_at
        if run.started_at
        else None,
        "can_run_again": run.run_type in (RunType.TASK_V1, RunType.TASK_V2),
        # Webhook deliveries are shown once the runs app records them (a `webhook_deliveries`
        # relation on Run); until then the section is left out.
        "webhook_deliveries": list(deliveries.all()) if deliveries is not None else None,
        "version": live_version(run),
        "poll": LIVE_POLL,
    }


REQUEST_LABELS = {
    "prompt": "Prompt",
    "url": "Start URL",
    "title": "Title",
    "engine": "Engine",
    "proxy_location": "Proxy location",
    "data_extraction_schema": "Data extraction schema",
    "error_code_mapping": "Error code mapping",
    "max_steps": "Max steps",
    "webhook_url": "Webhook URL",
    "totp_identifier": "TOTP identifier",
    "totp_url": "TOTP URL",
    "browser_session_id": "Browser session",
    "publish_workflow": "Publish workflow",
    "workflow_id": "Workflow",
    "parameters": "Parameters",
}


def _request_fields(run: Run) -> list[dict[str, Any]]:
    fields = []
    for name, value in run.run_request.items():
        fields.append(
            {
                "name": name,
                "label": REQUEST_LABELS.get(name, name),
                "value": value,
                "is_json": isinstance(value, dict | list),
            }
        )
    return fields


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    if request.htmx and request.GET.get("v") == live_version(run):
        # A poll, and the page is up to date: nothing to swap (htmx ignores a 204).
        return HttpResponse(status=204)
    return htmx_render(request, "runs/detail.html", _run_context(run), "run-live")


@login_required
@require_POST
def run_cancel(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    canceled = run.cancel(f"Canceled from the dashboard by {request.user.get_username()}")
    if request.htmx:
        return render(request, "runs/detail.html#run-live", _run_context(run))
    if canceled:
        messages.success(request, "The run was canceled.")
    else:
        messages.info(request, f"The run had already finished ({run.status}).")
    return redirect("run-detail", run_id=run.public_id)


@login_required
@require_POST
def run_again(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    if run.run_type not in (RunType.TASK_V1, RunType.TASK_V2):
        raise Http404("Only tasks can be run again from here")
    edit = reverse("run-new") + f"?from={run.public_id}"
    try:
        new_run = create_task_run(run.organization, TaskRunRequest(**run.run_request))
    except (FieldErrors, InvalidURL, NotFound, ValidationError) as exc:
        # What was fine then may not be now (its browser session closed, a setting
        # changed): open the form with the request, where the error shows by its field.
        messages.error(request, f"This run cannot start again as it was: {exc}")
        return redirect(edit)
    messages.success(request, f"Started again as {new_run.public_id}.")
    return redirect("run-detail", run_id=new_run.public_id)


@login_required
@require_GET
def run_output(request: HttpRequest, run_id: str) -> HttpResponse:
    run = get_run_for_user(request, run_id)
    body = json.dumps(run.output, indent=2, ensure_ascii=False) + "\n"
    response = HttpResponse(body.encode(), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{run.public_id}-output.json"'
    return response


@login_required
@require_GET
def run_artifact(request: HttpRequest, run_id: str, artifact_id: str) -> FileResponse:
    run = get_run_for_user(request, run_id)
    artifact = get_artifact_for_user(request, run, artifact_id)
    try:
        return artifact_file_response(artifact)
    except NotFound as exc:
        raise Http404(str(exc)) from None


# --- new task --------------------------------------------------------------------------


def _session_choices(organization: Organization) -> list[tuple[str, str]]:
    sessions = BrowserSession.objects.for_organization(organization).active()
    choices = []
    for session in sessions:
        label = session.public_id
        if session.runnable_id:
            label += f" (busy: {session.runnable_id})"
        elif getattr(session, "status", "") == "creating":
            label += " (starting)"
        choices.append((session.public_id, label))
    return choices


def _apply_api_rules(form: TaskForm, organization: Organization) -> TaskRunRequest | None:
    """The request the form describes, checked by the API's rules; None if it breaks one.

    The errors go to the form, by field. Fields the form already refused are left out,
    so that each field shows one problem, the first one found.
    """
    data = {k: v for k, v in form.request_data().items() if k not in form.errors}
    if data.get("engine") is None:
        data.pop("engine", None)  # reported by the form; the API's default stands in
    try:
        task_request = TaskRunRequest(**data)
        # The checks `create_task_run` makes before it stores anything (blank prompt,
        # max_steps range, URLs, the browser session), without storing anything.
        normalized_task_fields(organization, task_request)
    except (ValidationError, FieldErrors, InvalidURL, NotFound) as exc:
        _add_api_errors(form, exc)
        return None
    return task_request


def _add_api_errors(
    form: TaskForm, exc: ValidationError | FieldErrors | InvalidURL | NotFound
) -> None:
    def add(field: str | None, message: str) -> None:
        name = field if field in form.fields else None
        if name is None or name not in form.errors:
            form.add_error(name, message)

    if isinstance(exc, ValidationError):
        for error in exc.errors(include_url=False):
            add(str(error["loc"][0]) if error["loc"] else None, error["msg"])
    elif isinstance(exc, FieldErrors):
        for error in exc.errors:
            add(error.field, error.message)
    elif isinstance(exc, InvalidURL):
        data = form.cleaned_data
        bad = [n for n in URL_FIELDS if (data.get(n) or "").strip() == exc.url.strip()]
        add(bad[0] if bad else None, str(exc))
    else:
        add("browser_session_id", f"{exc}. It may have closed or timed out: pick another or none.")


@login_required
@require_http_methods(["GET", "POST"])
def new_task(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    sessions = _session_choices(organization)
    if request.method == "GET":
        initial: dict[str, Any] = {}
        if source_id := request.GET.get("from"):
            initial = initial_from_request(get_run_for_user(request, source_id).run_request)
        elif session_id := request.GET.get("session"):
            initial = {"browser_session_id": session_id}
        form = TaskForm(initial=initial, sessions=sessions)
        return render(request, "runs/new.html", {"form": form})

    form = TaskForm(request.POST, sessions=sessions)
    form_ok = form.is_valid()
    # The API's rules also judge the fields the form could read when others could not,
    # so that every problem is listed at once, each by its field.
    task_request = _apply_api_rules(form, organization)
    if form_ok and task_request is not None and not form.errors:
        try:
            run = create_task_run(organization, task_request)
        except (ValidationError, FieldErrors, InvalidURL, NotFound) as exc:
            _add_api_errors(form, exc)  # e.g. the session closed since the check just above
        else:
            return redirect("run-detail", run_id=run.public_id)
    return render(request, "runs/new.html", {"form": form}, status=422)

"""Dashboard pages of browser sessions: the list with live thumbnails, new, close.

A session is a live Chromium on a worker host; starting, closing and
photographing it is `sessions.services`' work, shared with the API, so the
dashboard closes a session exactly as `POST /v1/browser_sessions/{id}/close` does
(the browser ends, a run using it is canceled).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.access import current_organization, get_session_for_user
from dashboard.forms import DashboardForm
from dashboard.models import Organization
from dashboard.pages import confirm_page, htmx_render
from runs.models import Run
from sessions.models import (
    DEFAULT_TIMEOUT_MINUTES,
    MAX_TIMEOUT_MINUTES,
    MIN_TIMEOUT_MINUTES,
    BrowserSession,
)
from sessions.services import capture_screenshot, close_session, create_session

LIST_POLL = "every 5s"
# Thumbnails are fetched again at most this often (their URL changes with the period),
# as a fresh capture asks the session's worker host for a screenshot.
THUMBNAIL_PERIOD_SECONDS = 10
NO_PREVIEW_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200">'
    '<rect width="320" height="200" fill="#eef1f4"/>'
    '<text x="160" y="105" text-anchor="middle" font-family="sans-serif" font-size="16" '
    'fill="#57606a">No preview yet</text></svg>'
)


class NewSessionForm(DashboardForm):
    timeout = forms.IntegerField(
        label="Close after (minutes)",
        min_value=MIN_TIMEOUT_MINUTES,
        max_value=MAX_TIMEOUT_MINUTES,
        initial=DEFAULT_TIMEOUT_MINUTES,
        help_text=f"Between {MIN_TIMEOUT_MINUTES} and {MAX_TIMEOUT_MINUTES} minutes; the "
        "session closes by itself then.",
    )


def _session_rows(organization: Organization) -> list[dict[str, Any]]:
    sessions = list(BrowserSession.objects.for_organization(organization).active())
    run_ids = {s.runnable_id for s in sessions if s.runnable_id}
    runs = {
        run.public_id: run
        for run in Run.objects.for_organization(organization).filter(public_id__in=run_ids)
    }
    now = timezone.now()
    return [
        {
            "session": session,
            "status": getattr(session, "status", None) or "ready",
            "failure_reason": getattr(session, "failure_reason", None),
            "run": runs.get(session.runnable_id or ""),
            "age": now - session.created_at,
            "time_left": max(session.expires_at - now, timedelta(0)),
        }
        for session in sessions
    ]


def _list_context(request: HttpRequest, form: NewSessionForm | None = None) -> dict[str, Any]:
    organization = current_organization(request)
    return {
        "rows": _session_rows(organization),
        "form": form or NewSessionForm(),
        "poll": LIST_POLL,
        "thumbnail_version": int(time.time() // THUMBNAIL_PERIOD_SECONDS),
    }


@login_required
@require_GET
def session_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    return htmx_render(request, "sessions/list.html", context, "session-list")


@login_required
@require_POST
def session_new(request: HttpRequest) -> HttpResponse:
    organization = current_organization(request)
    form = NewSessionForm(request.POST)
    if not form.is_valid():
        return htmx_render(request, "sessions/list.html", _list_context(request, form), status=422)
    session = create_session(organization, timeout_minutes=form.cleaned_data["timeout"])
    messages.success(request, f"Browser session {session.public_id} created.")
    return redirect("session-list")


@login_required
@require_http_methods(["GET", "POST"])
def session_close(request: HttpRequest, session_id: str) -> HttpResponse:
    session = get_session_for_user(request, session_id)
    if request.method == "GET":
        busy = (
            f" The run using it ({session.runnable_id}) will be canceled."
            if session.runnable_id
            else ""
        )
        return confirm_page(
            request,
            title=f"Close browser session {session.public_id}?",
            message="Its browser ends, with its tabs and cookies." + busy,
            action=reverse("session-close", args=[session.public_id]),
            button="Close session",
            back=reverse("session-list"),
        )
    close_session(session, f"Closed from the dashboard by {request.user.get_username()}")
    if request.htmx:
        return htmx_render(request, "sessions/list.html", _list_context(request), "session-list")
    messages.success(request, f"Browser session {session.public_id} closed.")
    return redirect("session-list")


@login_required
@require_GET
def session_screenshot(request: HttpRequest, session_id: str) -> HttpResponse:
    session = get_session_for_user(request, session_id)
    # A fresh capture when the session's host answers within a few seconds, else the
    # last one taken; None before the browser ever showed anything.
    image = capture_screenshot(session)
    if image is None:
        response = HttpResponse(NO_PREVIEW_SVG, content_type="image/svg+xml")
    else:
        kind = "image/png" if image[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
        response = HttpResponse(image, content_type=kind)
    # Matches the thumbnail period, so the list's polls reuse the image between captures.
    response["Cache-Control"] = f"private, max-age={THUMBNAIL_PERIOD_SECONDS}"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response

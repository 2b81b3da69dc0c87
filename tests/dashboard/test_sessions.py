"""Browser sessions: the list, starting one, closing one (with a confirmation), thumbnails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sessions import views as session_views
from sessions.models import BrowserSession
from tests.conftest import Tenant
from tests.dashboard.conftest import PNG, Person, make_run


def test_empty_list_explains_sessions(member: Person) -> None:
    page = member.client.get("/sessions/").content.decode()
    assert "No open sessions." in page
    assert "POST /v1/browser_sessions" in page
    assert '<label for="id_timeout">' in page


def test_list_shows_open_sessions_with_age_time_left_and_run(
    member: Person, tenant: Tenant
) -> None:
    run = make_run(tenant.organization, title="Using the browser")
    busy = BrowserSession.objects.create(
        organization=tenant.organization,
        created_at=timezone.now() - timedelta(minutes=5),
        timeout_minutes=60,
        runnable_type="task_v1",
        runnable_id=run.public_id,
    )
    closed = BrowserSession.objects.create(organization=tenant.organization)
    closed.close()
    page = member.client.get("/sessions/").content.decode()
    assert busy.public_id in page
    assert closed.public_id not in page
    assert "5 min ago" in page
    assert "55 min" in page or "54 min" in page
    assert f'href="/runs/{run.public_id}/"' in page
    assert "Using the browser" in page
    assert f"/sessions/{busy.public_id}/screenshot?t=" in page


def test_list_partial_polls(member: Person, tenant: Tenant) -> None:
    BrowserSession.objects.create(organization=tenant.organization)
    response = member.htmx("/sessions/")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="sessions"')
    assert 'hx-trigger="every 5s"' in body
    assert "<html" not in body


def test_new_session(member: Person, tenant: Tenant) -> None:
    response = member.client.post("/sessions/new/", {"timeout": "30"})
    assert response["Location"] == "/sessions/"
    session = BrowserSession.objects.get()
    assert session.organization == tenant.organization
    assert session.timeout_minutes == 30


@pytest.mark.parametrize("timeout", ["4", "241", "soon"])
def test_new_session_timeout_is_checked(member: Person, timeout: str) -> None:
    response = member.client.post("/sessions/new/", {"timeout": timeout})
    assert response.status_code == 422
    assert b'id="id_timeout_error"' in response.content
    assert BrowserSession.objects.count() == 0


def test_close_asks_first_without_javascript(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    page = member.client.get("/sessions/").content.decode()
    close_url = f"/sessions/{session.public_id}/close/"
    assert f'href="{close_url}"' in page  # without JavaScript: a page that asks
    assert f'hx-post="{close_url}"' in page
    assert "hx-confirm=" in page
    confirm = member.client.get(close_url)
    assert confirm.status_code == 200
    assert f'action="{close_url}"' in confirm.content.decode()
    session.refresh_from_db()
    assert not session.is_closed  # asking changes nothing


def test_close_cancels_the_run_using_it(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    run = make_run(tenant.organization, browser_session_id=session.public_id)
    run.mark_queued()
    response = member.client.post(f"/sessions/{session.public_id}/close/")
    assert response["Location"] == "/sessions/"
    session.refresh_from_db()
    assert session.is_closed
    assert session.failure_reason == "Closed from the dashboard by mia"
    run.refresh_from_db()
    assert run.status == "canceled"
    listed = member.client.get("/sessions/").content.decode().split('id="sessions"', 1)[1]
    assert session.public_id not in listed
    # Closed is gone: its page, its thumbnail and closing it again are 404s.
    assert member.client.post(f"/sessions/{session.public_id}/close/").status_code == 404
    assert member.client.get(f"/sessions/{session.public_id}/screenshot").status_code == 404


def test_close_over_htmx_returns_the_list(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    response = member.client.post(f"/sessions/{session.public_id}/close/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="sessions"')
    assert session.public_id not in body


def test_close_needs_csrf(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member.user)
    assert strict.post(f"/sessions/{session.public_id}/close/").status_code == 403
    session.refresh_from_db()
    assert not session.is_closed


def test_screenshot_placeholder_when_there_is_none(
    member: Person, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    monkeypatch.setattr(session_views, "capture_screenshot", lambda session: None)
    response = member.client.get(f"/sessions/{session.public_id}/screenshot")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"No preview yet" in response.content
    assert "max-age=10" in response["Cache-Control"]


def test_screenshot_image(member: Person, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    seen = []
    monkeypatch.setattr(session_views, "capture_screenshot", lambda s: seen.append(s) or PNG)
    response = member.client.get(f"/sessions/{session.public_id}/screenshot")
    assert response["Content-Type"] == "image/png"
    assert response.content == PNG
    assert seen == [session]


def test_new_task_link_preselects_the_session(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    page = member.client.get("/sessions/").content.decode()
    assert f'href="/runs/new/?session={session.public_id}"' in page

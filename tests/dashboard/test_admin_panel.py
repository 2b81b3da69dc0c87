"""The admin panel's parts the dashboard relies on: organizations with members and keys,
read-only runs, sessions closed the way the API and the dashboard close them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from runs.models import RunStatus
from sessions.models import BrowserSession
from tests.conftest import Tenant
from tests.dashboard.conftest import PASSWORD, Person, make_run


@pytest.fixture
def superuser(db: None) -> Client:
    root = get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    client = Client()
    client.force_login(root)
    return client


def test_organization_lists_members_and_keys(
    superuser: Client, tenant: Tenant, member: Person
) -> None:
    page = superuser.get(f"/admin/dashboard/organization/{tenant.organization.pk}/change/")
    text = page.content.decode()
    assert "mia" in text
    assert tenant.api_key.lookup in text
    assert tenant.api_key.key_hash not in text


def test_runs_have_filters(superuser: Client, tenant: Tenant, other_tenant: Tenant) -> None:
    make_run(tenant.organization)  # (the organization filter shows once there are two)
    page = superuser.get("/admin/runs/run/").content.decode()
    for title in ("status", "run type", "engine", "organization", "created at"):
        assert f"By {title}" in page, title


def test_sessions_are_read_only_and_cannot_be_added(superuser: Client, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    assert superuser.get("/admin/browser_sessions/browsersession/add/").status_code == 403
    page = superuser.get(f"/admin/browser_sessions/browsersession/{session.pk}/change/")
    assert b'name="host"' not in page.content
    assert b'name="runnable_id"' not in page.content


def test_close_action_cancels_the_run_using_the_session(superuser: Client, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    run = make_run(tenant.organization, browser_session_id=session.public_id)
    run.mark_queued()
    superuser.post(
        "/admin/browser_sessions/browsersession/",
        {"action": "close_sessions", "_selected_action": [session.pk]},
    )
    session.refresh_from_db()
    run.refresh_from_db()
    assert session.is_closed
    assert session.failure_reason == "Closed in the admin panel by root"
    assert run.status == RunStatus.CANCELED

"""Django admin: organizations with members and keys inline (no key hash), runs read-only."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dashboard.models import ApiKey
from runs.models import Run, RunType
from sessions.models import BrowserSession
from tests.conftest import Tenant


@pytest.fixture
def admin_client(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client = Client()
    client.force_login(user)
    return client


def test_organization_page_lists_keys_without_their_hash(
    admin_client: Client, tenant: Tenant
) -> None:
    response = admin_client.get(f"/admin/dashboard/organization/{tenant.organization.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert tenant.api_key.lookup in page
    assert tenant.api_key.key_hash not in page
    assert tenant.key not in page
    assert tenant.organization.webhook_signing_secret not in page


def test_api_key_admin_never_shows_the_hash(admin_client: Client, tenant: Tenant) -> None:
    response = admin_client.get(f"/admin/dashboard/apikey/{tenant.api_key.pk}/change/")
    assert response.status_code == 200
    assert tenant.api_key.key_hash not in response.content.decode()


def test_revoke_action(admin_client: Client, tenant: Tenant) -> None:
    admin_client.post(
        "/admin/dashboard/apikey/",
        {"action": "revoke", "_selected_action": [tenant.api_key.pk]},
    )
    assert ApiKey.objects.get(pk=tenant.api_key.pk).revoked_at is not None
    assert tenant.get("/v1/browser_sessions").status_code == 401


def test_runs_are_read_only(admin_client: Client, tenant: Tenant) -> None:
    run = Run.objects.create(
        organization=tenant.organization, run_type=RunType.TASK_V1, prompt="<b>x</b>"
    )
    assert admin_client.get("/admin/runs/run/").status_code == 200
    page = admin_client.get(f"/admin/runs/run/{run.pk}/change/")
    assert page.status_code == 200
    assert b"<b>x</b>" not in page.content  # escaped
    response = admin_client.post(f"/admin/runs/run/{run.pk}/change/", {"status": "completed"})
    assert response.status_code == 403
    assert admin_client.get("/admin/runs/run/add/").status_code == 403


def test_sessions_close_action(admin_client: Client, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    admin_client.post(
        "/admin/browser_sessions/browsersession/",
        {"action": "close_sessions", "_selected_action": [session.pk]},
    )
    session.refresh_from_db()
    assert session.is_closed

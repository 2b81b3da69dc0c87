"""POST /v1/browser_sessions/{browser_session_id}/close, and the sweep of expired sessions."""

from datetime import timedelta

from django.utils import timezone

from sessions.models import BrowserSession
from sessions.tasks import close_expired_sessions
from tests.conftest import Tenant


def test_close_marks_the_session_deleted(tenant: Tenant) -> None:
    session_id = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    response = tenant.client.post(f"/v1/browser_sessions/{session_id}/close")
    assert response.status_code == 200
    assert response.json()["message"] == "Browser session closed"
    session = BrowserSession.objects.get(public_id=session_id)
    assert session.deleted_at is not None


def test_close_is_idempotent(tenant: Tenant) -> None:
    session_id = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    tenant.post(f"/v1/browser_sessions/{session_id}/close")
    deleted_at = BrowserSession.objects.get(public_id=session_id).deleted_at
    again = tenant.post(f"/v1/browser_sessions/{session_id}/close")
    assert again.status_code == 200
    assert BrowserSession.objects.get(public_id=session_id).deleted_at == deleted_at


def test_closing_another_organizations_session_is_404_and_leaves_it_open(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = other_tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    response = tenant.post(f"/v1/browser_sessions/{theirs}/close")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Browser session not found: {theirs}"}
    assert BrowserSession.objects.get(public_id=theirs).deleted_at is None


def test_closing_unknown_session_is_404(tenant: Tenant) -> None:
    assert tenant.post("/v1/browser_sessions/pbs_123/close").status_code == 404


def test_sweep_closes_only_sessions_past_their_timeout(tenant: Tenant) -> None:
    expired = BrowserSession.objects.create(
        organization=tenant.organization,
        timeout_minutes=5,
        created_at=timezone.now() - timedelta(minutes=6),
    )
    fresh = BrowserSession.objects.create(organization=tenant.organization, timeout_minutes=5)
    assert close_expired_sessions() == 1
    expired.refresh_from_db()
    fresh.refresh_from_db()
    assert expired.is_closed
    assert not fresh.is_closed
    assert close_expired_sessions() == 0

"""GET /v1/browser_sessions/{browser_session_id}."""

import pytest

from tests.conftest import Tenant


def test_own_active_session_is_returned(tenant: Tenant) -> None:
    created = tenant.post("/v1/browser_sessions", {}).json()
    response = tenant.get(f"/v1/browser_sessions/{created['browser_session_id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_closed_session_is_404(tenant: Tenant) -> None:
    session_id = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    tenant.post(f"/v1/browser_sessions/{session_id}/close")
    response = tenant.get(f"/v1/browser_sessions/{session_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Browser session not found: {session_id}"}


@pytest.mark.parametrize("session_id", ["pbs_1", "nope", "pbs_%00"])
def test_unknown_session_is_404(tenant: Tenant, session_id: str) -> None:
    response = tenant.get(f"/v1/browser_sessions/{session_id}")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Browser session not found: ")


def test_other_organizations_session_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = other_tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    response = tenant.get(f"/v1/browser_sessions/{theirs}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Browser session not found: {theirs}"}

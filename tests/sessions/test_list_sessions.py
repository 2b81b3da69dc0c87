"""GET /v1/browser_sessions: the organization's active sessions only."""

from sessions.models import BrowserSession
from tests.conftest import Tenant


def test_lists_only_active_sessions_newest_first(tenant: Tenant) -> None:
    first = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    second = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    closed = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    tenant.post(f"/v1/browser_sessions/{closed}/close")
    response = tenant.get("/v1/browser_sessions")
    assert response.status_code == 200
    assert [s["browser_session_id"] for s in response.json()] == [second, first]


def test_never_shows_another_organizations_sessions(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = tenant.post("/v1/browser_sessions", {}).json()["browser_session_id"]
    other_tenant.post("/v1/browser_sessions", {})
    listed = tenant.get("/v1/browser_sessions").json()
    assert [s["browser_session_id"] for s in listed] == [mine]
    assert {s["organization_id"] for s in listed} == {tenant.organization.public_id}


def test_empty_list_when_there_are_none(tenant: Tenant) -> None:
    BrowserSession.objects.create(organization=tenant.organization).close()
    assert tenant.get("/v1/browser_sessions").json() == []

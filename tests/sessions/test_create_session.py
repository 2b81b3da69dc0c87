"""POST /v1/browser_sessions."""

from datetime import timedelta

import pytest

from sessions.models import BrowserSession
from tests.conftest import Tenant


def test_create_without_body_opens_a_session_for_an_hour(tenant: Tenant) -> None:
    response = tenant.client.generic("POST", "/v1/browser_sessions")  # no body, no content type
    assert response.status_code == 200
    body = response.json()
    assert body["browser_session_id"].startswith("pbs_")
    assert body["organization_id"] == tenant.organization.public_id
    assert body["runnable_type"] is None
    assert body["runnable_id"] is None
    assert body["deleted_at"] is None
    session = BrowserSession.objects.get(public_id=body["browser_session_id"])
    assert session.timeout_minutes == 60
    assert session.expires_at - session.created_at == timedelta(minutes=60)


@pytest.mark.parametrize("raw", ["", "{}", "null", '{"timeout": null}'])
def test_empty_json_bodies_mean_the_defaults(tenant: Tenant, raw: str) -> None:
    # Skyvern SDK 1.0 sends content-type: application/json with an empty body.
    response = tenant.client.post("/v1/browser_sessions", raw, content_type="application/json")
    assert response.status_code == 200
    session = BrowserSession.objects.get(public_id=response.json()["browser_session_id"])
    assert session.timeout_minutes == 60


@pytest.mark.parametrize("minutes", [5, 30, 240])
def test_timeout_in_minutes_is_kept(tenant: Tenant, minutes: int) -> None:
    body = tenant.post("/v1/browser_sessions", {"timeout": minutes}).json()
    session = BrowserSession.objects.get(public_id=body["browser_session_id"])
    assert session.timeout_minutes == minutes


@pytest.mark.parametrize(
    ("timeout", "error_type"),
    [
        (4, "greater_than_equal"),
        (241, "less_than_equal"),
        ("soon", "int_parsing"),
        (1.5, "int_from_float"),
    ],
)
def test_timeout_out_of_range_is_422(tenant: Tenant, timeout: object, error_type: str) -> None:
    response = tenant.post("/v1/browser_sessions", {"timeout": timeout})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "timeout"]
    assert error["type"] == error_type
    assert not BrowserSession.objects.exists()


@pytest.mark.parametrize("raw", ["{", "[]", '"x"', "5"])
def test_malformed_or_non_object_body_is_422(tenant: Tenant, raw: str) -> None:
    response = tenant.client.post("/v1/browser_sessions", raw, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert not BrowserSession.objects.exists()

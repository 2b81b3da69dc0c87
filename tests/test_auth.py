"""API authentication: x-api-key or Bearer, scoped to the key's organization."""

import pytest
from django.test import Client

from dashboard.auth import INVALID_KEY, MISSING_KEY
from dashboard.models import ApiKey, hash_api_key
from tests.conftest import Tenant

PROTECTED = [
    ("get", "/v1/browser_sessions"),
    ("post", "/v1/browser_sessions"),
    ("get", "/v1/browser_sessions/pbs_1"),
    ("post", "/v1/browser_sessions/pbs_1/close"),
    ("get", "/v1/runs/tsk_1"),
    ("post", "/v1/tasks"),
    ("post", "/v1/run/tasks"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_key_gets_401_with_detail(anonymous: Client, method: str, path: str, db: None) -> None:
    response = getattr(anonymous, method)(path)
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING_KEY}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_unknown_key_gets_401(method: str, path: str, tenant: Tenant) -> None:
    client = Client(headers={"x-api-key": tenant.key[:-4] + "AAAA"})
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.json() == {"detail": INVALID_KEY}


def test_key_of_wrong_shape_gets_401(db: None) -> None:
    for bad in ["x", "hk_", "Bearer", "hk_short", "🦅" * 20]:
        response = Client(headers={"x-api-key": bad}).get("/v1/browser_sessions")
        assert response.status_code == 401, bad


def test_revoked_key_gets_401(tenant: Tenant) -> None:
    assert tenant.get("/v1/browser_sessions").status_code == 200
    tenant.api_key.revoke()
    response = tenant.get("/v1/browser_sessions")
    assert response.status_code == 401
    assert response.json() == {"detail": INVALID_KEY}


def test_bearer_token_is_accepted(tenant: Tenant) -> None:
    client = Client(headers={"authorization": f"Bearer {tenant.key}"})
    assert client.get("/v1/browser_sessions").status_code == 200


def test_bearer_scheme_is_case_insensitive(tenant: Tenant) -> None:
    client = Client(headers={"authorization": f"bearer {tenant.key}"})
    assert client.get("/v1/browser_sessions").status_code == 200


def test_authorization_without_bearer_scheme_is_refused(tenant: Tenant) -> None:
    client = Client(headers={"authorization": f"Basic {tenant.key}"})
    response = client.get("/v1/browser_sessions")
    assert response.status_code == 401
    assert response.json() == {"detail": MISSING_KEY}


def test_x_api_key_wins_over_bearer(tenant: Tenant, other_tenant: Tenant) -> None:
    client = Client(
        headers={"x-api-key": tenant.key, "authorization": f"Bearer {other_tenant.key}"}
    )
    created = client.generic("POST", "/v1/browser_sessions").json()
    assert created["organization_id"] == tenant.organization.public_id


def test_invalid_x_api_key_is_not_rescued_by_valid_bearer(tenant: Tenant) -> None:
    client = Client(
        headers={"x-api-key": "hk_wrongwrongwrong", "authorization": f"Bearer {tenant.key}"}
    )
    assert client.get("/v1/browser_sessions").status_code == 401


def test_keys_are_stored_only_as_hmac(tenant: Tenant) -> None:
    row = ApiKey.objects.get(pk=tenant.api_key.pk)
    assert tenant.key not in (row.lookup, row.key_hash, row.name)
    assert row.key_hash == hash_api_key(tenant.key)
    assert len(row.key_hash) == 64
    assert tenant.key.startswith(row.lookup)


def test_use_records_last_used_time(tenant: Tenant) -> None:
    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at is None
    tenant.get("/v1/browser_sessions")
    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at is not None


def test_each_organization_can_hold_many_named_keys(tenant: Tenant) -> None:
    second, key = ApiKey.issue(tenant.organization, "ci")
    assert second.name == "ci"
    assert Client(headers={"x-api-key": key}).get("/v1/browser_sessions").status_code == 200
    assert tenant.organization.api_keys.count() == 2

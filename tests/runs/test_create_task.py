"""POST /v1/tasks (and its alias POST /v1/run/tasks)."""

import json

import pytest
from django.test import Client

from runs.models import Run, RunStatus
from sessions.models import BrowserSession
from tests.conftest import Tenant

PATHS = ["/v1/tasks", "/v1/run/tasks"]


@pytest.mark.parametrize("path", PATHS)
def test_minimal_task_is_stored_queued_with_defaults(tenant: Tenant, path: str) -> None:
    response = tenant.post(path, {"prompt": "Find the cheapest plan"})
    assert response.status_code == 200
    body = response.json()
    assert body["run_id"].startswith("tsk_v2_")
    assert body["status"] == "queued"
    assert body["run_type"] == "task_v2"
    assert body["output"] is None
    assert body["failure_reason"] is None
    assert body["run_request"] == {
        "prompt": "Find the cheapest plan",
        "url": None,
        "title": None,
        "engine": "skyvern-2.0",
        "proxy_location": "RESIDENTIAL",
        "data_extraction_schema": None,
        "error_code_mapping": None,
        "max_steps": 25,
        "webhook_url": None,
        "totp_identifier": None,
        "totp_url": None,
        "browser_session_id": None,
        "publish_workflow": False,
    }
    run = Run.objects.get(public_id=body["run_id"])
    assert run.organization == tenant.organization
    assert run.status == RunStatus.QUEUED
    assert run.queued_at is not None


def test_every_field_is_stored_as_given(tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    request = {
        "prompt": "Log in and download the invoice",
        "url": "https://shop.example.com/login",
        "title": "Invoice",
        "engine": "skyvern-1.0",
        "proxy_location": "US-CA",
        "data_extraction_schema": {"type": "object", "properties": {"total": {"type": "number"}}},
        "error_code_mapping": {"LOGIN_FAILED": "the password was rejected"},
        "max_steps": 7,
        "webhook_url": "https://hooks.example.com/harrier",
        "totp_identifier": "me@example.com",
        "totp_url": "https://otp.example.com/code",
        "browser_session_id": session.public_id,
        "publish_workflow": True,
    }
    body = tenant.post("/v1/tasks", request).json()
    assert body["run_id"].startswith("tsk_")
    assert not body["run_id"].startswith("tsk_v2_")
    assert body["run_type"] == "task_v1"
    assert body["run_request"] == request
    fetched = tenant.get(f"/v1/runs/{body['run_id']}").json()
    assert fetched["run_request"] == request


def test_v1_engine_defaults_to_ten_steps(tenant: Tenant) -> None:
    body = tenant.post("/v1/tasks", {"prompt": "p", "engine": "skyvern-1.0"}).json()
    assert body["run_request"]["max_steps"] == 10


@pytest.mark.parametrize("schema", [[{"type": "string"}], "the name and price of each plan", None])
def test_data_extraction_schema_accepts_every_contract_shape(
    tenant: Tenant, schema: object
) -> None:
    body = tenant.post("/v1/tasks", {"prompt": "p", "data_extraction_schema": schema}).json()
    assert body["run_request"]["data_extraction_schema"] == schema


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("example.com", "https://example.com"),
        ("example.com/path?q=1", "https://example.com/path?q=1"),
        ("http://example.com", "http://example.com"),
        ("HTTPS://Example.com/A", "HTTPS://Example.com/A"),
        ("  https://example.com  ", "https://example.com"),
        ("example.com:8443/x", "https://example.com:8443/x"),
        ("", None),
    ],
)
@pytest.mark.parametrize("field", ["url", "webhook_url", "totp_url"])
def test_urls_get_a_scheme(tenant: Tenant, field: str, given: str, stored: str | None) -> None:
    body = tenant.post("/v1/tasks", {"prompt": "p", field: given}).json()
    assert body["run_request"][field] == stored


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://example.com/file",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,hi",
        "http://",
        "https://exa mple.com",
        "https://example.com:notaport/",
        "https://-bad-.example..com",
    ],
)
@pytest.mark.parametrize("field", ["url", "webhook_url", "totp_url"])
def test_bad_urls_are_400_and_store_nothing(tenant: Tenant, field: str, bad: str) -> None:
    response = tenant.post("/v1/tasks", {"prompt": "p", field: bad})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"Invalid URL: {bad}")
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "internal",
    [
        "localhost:8000",
        "http://127.0.0.1/admin",
        "http://10.0.0.5/",
        "http://192.168.1.1",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://0.0.0.0/",
        "http://app.localhost/",
    ],
)
def test_internal_addresses_are_refused_by_default(tenant: Tenant, internal: str) -> None:
    response = tenant.post("/v1/tasks", {"prompt": "p", "url": internal})
    assert response.status_code == 400
    assert "internal addresses are not allowed" in response.json()["detail"]
    response = tenant.post("/v1/tasks", {"prompt": "p", "webhook_url": internal})
    assert response.status_code == 400


def test_operator_can_allow_internal_addresses(
    tenant: Tenant, allow_private_networks: None
) -> None:
    body = tenant.post("/v1/tasks", {"prompt": "p", "url": "127.0.0.1:8000/login"}).json()
    assert body["run_request"]["url"] == "https://127.0.0.1:8000/login"


def _errors(response: object) -> list[dict]:
    assert response.status_code == 422, response.content  # type: ignore[attr-defined]
    return response.json()["detail"]  # type: ignore[attr-defined]


def test_missing_prompt_is_422_at_body_prompt(tenant: Tenant) -> None:
    (error,) = _errors(tenant.post("/v1/tasks", {"url": "example.com"}))
    assert error["loc"] == ["body", "prompt"]
    assert error["type"] == "missing"
    assert error["msg"] == "Field required"


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({"prompt": 42}, ["body", "prompt"], "string_type"),
        ({"prompt": "p", "max_steps": "many"}, ["body", "max_steps"], "int_parsing"),
        ({"prompt": "p", "max_steps": 2.5}, ["body", "max_steps"], "int_from_float"),
        ({"prompt": "p", "url": ["a"]}, ["body", "url"], "string_type"),
        (
            {"prompt": "p", "publish_workflow": "perhaps"},
            ["body", "publish_workflow"],
            "bool_parsing",
        ),
        (
            {"prompt": "p", "error_code_mapping": {"X": 1}},
            ["body", "error_code_mapping", "X"],
            "string_type",
        ),
        (
            {"prompt": "p", "data_extraction_schema": 5},
            ["body", "data_extraction_schema", "dict[any,any]"],
            "dict_type",
        ),
    ],
)
def test_wrong_types_are_422_at_the_field(
    tenant: Tenant, body: dict, loc: list, error_type: str
) -> None:
    errors = _errors(tenant.post("/v1/tasks", body))
    assert [loc, error_type] in [[e["loc"], e["type"]] for e in errors]
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("engine", "skyvern-3.0"), ("proxy_location", "MOON"), ("engine", None)],
)
def test_unknown_enum_values_are_422(tenant: Tenant, field: str, value: object) -> None:
    (error,) = _errors(tenant.post("/v1/tasks", {"prompt": "p", field: value}))
    assert error["loc"] == ["body", field]
    assert error["type"] == "enum"


def test_null_proxy_location_is_allowed(tenant: Tenant) -> None:
    body = tenant.post("/v1/tasks", {"prompt": "p", "proxy_location": None}).json()
    assert body["run_request"]["proxy_location"] is None


@pytest.mark.parametrize("raw", ["{", '{"prompt": "p",}', "prompt=p", '{"prompt": NaN}', "\x00"])
def test_malformed_json_is_422(tenant: Tenant, raw: str) -> None:
    response = tenant.client.post("/v1/tasks", raw, content_type="application/json")
    (error,) = _errors(response)
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"
    assert error["msg"] == "JSON decode error"


def test_empty_body_is_422_missing_body(tenant: Tenant) -> None:
    (error,) = _errors(tenant.client.post("/v1/tasks", "", content_type="application/json"))
    assert error == {"type": "missing", "loc": ["body"], "msg": "Field required", "input": {}}


@pytest.mark.parametrize("raw", ["[]", '"prompt"', "42", "null"])
def test_body_that_is_not_an_object_is_422(tenant: Tenant, raw: str) -> None:
    errors = _errors(tenant.client.post("/v1/tasks", raw, content_type="application/json"))
    assert errors[0]["loc"] == ["body"]


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "a\u0000b"},
        {"prompt": "\ud800"},
        {"prompt": "p", "data_extraction_schema": {"k\u0000": 1}},
        {"prompt": "p", "error_code_mapping": {"E": "x\u0000"}},
    ],
)
def test_text_a_database_cannot_store_is_422(tenant: Tenant, body: dict) -> None:
    response = tenant.client.post("/v1/tasks", json.dumps(body), content_type="application/json")
    (error,) = _errors(response)
    assert error["type"] == "value_error"
    assert not Run.objects.exists()


@pytest.mark.parametrize("max_steps", [0, -1, 501, 10**12])
def test_max_steps_out_of_range_is_422(tenant: Tenant, max_steps: int) -> None:
    (error,) = _errors(tenant.post("/v1/tasks", {"prompt": "p", "max_steps": max_steps}))
    assert error["loc"] == ["body", "max_steps"]


def test_blank_prompt_is_422(tenant: Tenant) -> None:
    (error,) = _errors(tenant.post("/v1/tasks", {"prompt": "  \n"}))
    assert error["loc"] == ["body", "prompt"]


def test_unknown_fields_are_ignored(tenant: Tenant) -> None:
    response = tenant.post("/v1/tasks", {"prompt": "p", "model": {"name": "x"}, "extra": 1})
    assert response.status_code == 200
    assert "extra" not in response.json()["run_request"]


def test_browser_session_of_other_organization_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = BrowserSession.objects.create(organization=other_tenant.organization)
    response = tenant.post("/v1/tasks", {"prompt": "p", "browser_session_id": theirs.public_id})
    assert response.status_code == 404
    assert response.json() == {"detail": f"Browser session not found: {theirs.public_id}"}
    assert not Run.objects.exists()


def test_closed_or_unknown_browser_session_is_404(tenant: Tenant) -> None:
    closed = BrowserSession.objects.create(organization=tenant.organization)
    closed.close()
    for session_id in [closed.public_id, "pbs_404"]:
        response = tenant.post("/v1/tasks", {"prompt": "p", "browser_session_id": session_id})
        assert response.status_code == 404
    assert not Run.objects.exists()


def test_anonymous_request_stores_nothing(anonymous: Client, db: None) -> None:
    response = anonymous.post("/v1/tasks", {"prompt": "p"}, content_type="application/json")
    assert response.status_code == 401
    assert not Run.objects.exists()

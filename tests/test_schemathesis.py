"""Schemathesis against the contract (tests/spec/openapi.json) over real HTTP.

Generated requests go to a live server; the two checks that matter here are
that nothing answers 5xx and every documented response matches its schema.
Other checks stay off: the contract does not document some statuses Skyvern
really answers (404 on GET /v1/runs/{run_id}, for one).
"""

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from runs.models import Run, RunType
from sessions.models import BrowserSession
from tests.conftest import Tenant, make_tenant
from tests.test_openapi_contract import SPEC_PATH

CHECKS = [not_a_server_error, response_schema_conformance]
AUTH_HEADERS = {"x-api-key", "authorization"}


def _spec_without_auth_parameters() -> dict[str, Any]:
    # Auth is sent by the test; fuzzing the two optional auth headers would only
    # turn most requests into 401s, which say nothing about the operations.
    spec = json.loads(SPEC_PATH.read_text())
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            operation["parameters"] = [
                p
                for p in operation.get("parameters", [])
                if not (p["in"] == "header" and p["name"].lower() in AUTH_HEADERS)
            ]
    return spec


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261203,
        "generation": {
            "mode": "positive",
            "max-examples": 40,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)
schema = schemathesis.openapi.from_dict(_spec_without_auth_parameters(), config=CONFIG)


@pytest.fixture
def fuzzed_tenant(transactional_db: None) -> Tenant:
    return make_tenant("Fuzz")


@pytest.fixture
def real_ids(fuzzed_tenant: Tenant) -> dict[str, str]:
    run = Run.objects.create(
        organization=fuzzed_tenant.organization, run_type=RunType.TASK_V2, prompt="p"
    )
    session = BrowserSession.objects.create(organization=fuzzed_tenant.organization)
    return {"run_id": run.public_id, "browser_session_id": session.public_id}


@schema.parametrize()
@schema.given(use_real_ids=st.booleans())
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_the_contract(
    case: Any, use_real_ids: bool, live_server: Any, fuzzed_tenant: Tenant, real_ids: dict
) -> None:
    if use_real_ids:
        for name, value in real_ids.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = value
    response = case.call_and_validate(
        base_url=live_server.url, headers={"x-api-key": fuzzed_tenant.key}, checks=CHECKS
    )
    # Undocumented statuses are not schema-checked: a rejected key would pass vacuously.
    assert response.status_code != 401, response.text[:200]

"""The served OpenAPI document keeps the contract: ../shared/spec/openapi.json.

The suite reads the copy in tests/spec/openapi.json, so that a clone on its own
(as CI has it) carries its contract; when the shared original is beside the
checkout, the copy must equal it.

Every operation of the contract must be served with the same path, method,
operationId, parameters, request body and responses, once $refs are resolved.
Extensions may add paths, optional properties to response bodies, and an
optional request body where the contract has none (POST /v1/browser_sessions
takes an optional `timeout`); they change nothing the contract says.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.contract import differences, resolve_refs

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "openapi.json"
SHARED_SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "spec" / "openapi.json"
SPEC = json.loads(SPEC_PATH.read_text())
CONTRACT_OPERATIONS = [
    (path, method) for path, methods in SPEC["paths"].items() for method in methods
]
COMPARED_KEYS = ("operationId", "parameters", "requestBody", "responses")


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    return Client().get("/openapi.json", SERVER_NAME="localhost").json()


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return resolve_refs(document["paths"][path][method], document["components"]["schemas"])


def test_contract_has_the_six_operations() -> None:
    assert len(CONTRACT_OPERATIONS) == 6


@pytest.mark.skipif(not SHARED_SPEC_PATH.exists(), reason="no ../shared beside this checkout")
def test_copy_of_the_contract_equals_the_shared_original() -> None:
    assert json.loads(SHARED_SPEC_PATH.read_text()) == SPEC


@pytest.mark.parametrize(("path", "method"), CONTRACT_OPERATIONS)
def test_operation_matches_the_contract(served: dict, path: str, method: str) -> None:
    assert method in served["paths"].get(path, {}), f"{method.upper()} {path} is not served"
    expected = _operation(SPEC, path, method)
    actual = _operation(served, path, method)
    if "requestBody" not in expected and "requestBody" in actual:
        assert actual.pop("requestBody")["required"] is False, "an added body must be optional"
    problems = [
        problem
        for key in COMPARED_KEYS
        for problem in differences(
            expected.get(key), actual.get(key), key, allow_added_properties=(key == "responses")
        )
    ]
    assert problems == []


@pytest.mark.parametrize(("path", "method"), CONTRACT_OPERATIONS)
def test_operation_keeps_tags_and_summary(served: dict, path: str, method: str) -> None:
    expected = SPEC["paths"][path][method]
    actual = served["paths"][path][method]
    for key in ("tags", "summary", "x-fern-sdk-group-name", "x-fern-sdk-method-name"):
        assert actual.get(key) == expected.get(key), key


def test_contract_schemas_are_published_under_their_names(served: dict) -> None:
    ours = served["components"]["schemas"]
    for name, schema in SPEC["components"]["schemas"].items():
        resolved_expected = resolve_refs(schema, SPEC["components"]["schemas"])
        resolved_actual = resolve_refs(ours[name], ours)
        assert (
            differences(
                resolved_expected,
                resolved_actual,
                name,
                allow_added_properties=name.endswith("Response"),
            )
            == []
        )


def test_current_sdk_path_is_an_alias_of_run_task(served: dict) -> None:
    alias = _operation(served, "/v1/run/tasks", "post")
    original = _operation(served, "/v1/tasks", "post")
    assert alias["requestBody"] == original["requestBody"]
    assert alias["responses"]["200"] == original["responses"]["200"]


def test_interactive_docs_are_served(db: None) -> None:
    response = Client().get("/docs", SERVER_NAME="localhost")
    assert response.status_code == 200
    assert b"/openapi.json" in response.content


def test_differences_reports_a_changed_field() -> None:
    # The comparison itself must be able to fail.
    changed = json.loads(json.dumps(SPEC["components"]["schemas"]["TaskRunRequest"]))
    changed["properties"]["engine"]["default"] = "skyvern-1.0"
    assert differences(SPEC["components"]["schemas"]["TaskRunRequest"], changed) == [
        "/properties/engine/default: expected 'skyvern-2.0', got 'skyvern-1.0'"
    ]


def test_added_response_properties_must_stay_optional() -> None:
    expected = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    extended = {"properties": {"a": {"type": "string"}, "b": {}}, "required": ["a"]}
    required_added = {"properties": {"a": {"type": "string"}, "b": {}}, "required": ["a", "b"]}
    assert differences(expected, extended, allow_added_properties=True) == []
    assert differences(expected, extended) != []
    assert differences(expected, required_added, allow_added_properties=True) != []

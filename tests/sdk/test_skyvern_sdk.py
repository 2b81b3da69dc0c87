"""The official Skyvern Python SDKs, old and current, work against Harrier over real HTTP.

Each SDK version runs tests/sdk/sdk_client.py in its own subprocess (the versions
cannot share an interpreter, see scripts/fetch_sdks.sh) against pytest-django's
live_server, then the JSON it printed is checked here: the SDK's own classes must
come back, with Harrier's values in them, and its errors must carry the status codes
the contract gives.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from tests.conftest import Tenant, make_tenant

ROOT = Path(__file__).resolve().parents[2]
SDK_ROOT = ROOT / "var" / "sdk"
FETCH_SCRIPT = ROOT / "scripts" / "fetch_sdks.sh"
CLIENT_SCRIPT = Path(__file__).with_name("sdk_client.py")

# 0.1.66: the last SDK with the 0.1.x layout (client.agent / client.browser_session,
# POST /v1/tasks). 1.0.56: the current layout (methods on the client, POST /v1/run/tasks).
SDK_VERSIONS = ["0.1.66", "1.0.56"]

_fetch_output: str | None = None  # what fetch_sdks.sh said, once per test session


def sdk_path(version: str) -> Path:
    """The unzipped SDK wheel for `version`, fetching the SDKs once if it is missing."""
    global _fetch_output
    path = SDK_ROOT / f"skyvern-{version}"
    marker = path / "skyvern" / "client" / "__init__.py"
    if not marker.exists() and _fetch_output is None:
        fetched = subprocess.run(
            ["bash", str(FETCH_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        # The script reports trouble on stderr; of that, its own lines say what went wrong
        # and pip's retries and warnings do not.
        _fetch_output = " ".join(
            line for line in fetched.stderr.splitlines() if line.startswith("fetch_sdks:")
        )
    if not marker.exists():
        pytest.skip(
            f"skyvern=={version} SDK is not in {path} and scripts/fetch_sdks.sh could not "
            f"fetch it (no package registry?): {_fetch_output or 'it printed nothing'}"
        )
    return path


def run_sdk_client(version: str, base_url: str, key: str, other_key: str) -> dict[str, Any]:
    path = sdk_path(version)
    env = {
        name: value
        for name, value in os.environ.items()
        # httpx honours proxy variables; the live server is on loopback, reached directly.
        if name.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env.update(
        PYTHONPATH=str(path),
        HARRIER_URL=base_url,
        HARRIER_API_KEY=key,
        HARRIER_OTHER_API_KEY=other_key,
    )
    # The project's interpreter already has the SDK's only needs, httpx and pydantic.
    completed = subprocess.run(
        [sys.executable, str(CLIENT_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    # Shown by pytest when an assertion below fails.
    print(completed.stdout)
    print(completed.stderr, file=sys.stderr)
    try:
        summary: dict[str, Any] = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"sdk_client.py printed no JSON (exit {completed.returncode})")
    assert completed.returncode == 0, summary["problems"]
    return summary


def result(summary: dict[str, Any], step: str) -> dict[str, Any]:
    outcome = summary["steps"][step]
    assert outcome["outcome"] == "result", outcome
    return outcome["result"]


def error(summary: dict[str, Any], step: str, status_code: int) -> dict[str, Any]:
    outcome = summary["steps"][step]
    assert outcome["outcome"] == "error", outcome
    assert outcome["is_api_error"], outcome
    assert outcome["status_code"] == status_code, outcome
    return outcome


@pytest.mark.parametrize("version", SDK_VERSIONS)
def test_sdk_against_live_harrier(
    version: str, live_server: LiveServer, transactional_db: None
) -> None:
    # Committed rows (transactional_db), because live_server answers from another thread.
    tenant: Tenant = make_tenant("Acme")
    other: Tenant = make_tenant("Globex")

    summary = run_sdk_client(version, live_server.url, tenant.key, other.key)
    # The SDK under test is the one asked for, not whatever else is importable.
    assert summary["sdk_version"] == version
    assert Path(summary["sdk_path"]).is_relative_to(SDK_ROOT / f"skyvern-{version}")

    # run_task: the SDK's TaskRunResponse, a queued v2 task with the URL normalized.
    task = result(summary, "run_task")
    assert task["class"] == "TaskRunResponse"
    run_id = task["fields"]["run_id"]
    assert run_id.startswith("tsk_v2_")
    assert task["fields"]["status"] == "queued"
    assert task["fields"]["run_request"]["url"] == "https://example.com"
    assert task["fields"]["run_request"]["prompt"] == "Find the page title"
    assert task["fields"].get("run_type", "task_v2") == "task_v2"

    # get_run: the union member for task_v2 (AgentGetRunResponse_TaskV2 in 0.1.x,
    # GetRunResponse_TaskV2 in 1.0.x), holding the same run.
    got = result(summary, "get_run")
    assert got["class"].endswith("_TaskV2"), got["class"]
    assert got["fields"]["run_type"] == "task_v2"
    assert got["fields"]["run_id"] == run_id
    assert got["fields"]["status"] == "queued"
    assert got["fields"]["run_request"]["url"] == "https://example.com"
    assert got["nested"].get("run_request", "").startswith("TaskRunRequest")

    # Browser sessions: create, list, get.
    created = result(summary, "create_browser_session")
    assert created["class"] == "BrowserSessionResponse"
    session_id = created["fields"]["browser_session_id"]
    assert session_id.startswith("pbs_")
    assert created["fields"]["organization_id"] == tenant.organization.public_id

    listed = result(summary, "get_browser_sessions")
    assert listed["class"] == "list"
    assert {item["class"] for item in listed["items"]} == {"BrowserSessionResponse"}
    assert session_id in [item["fields"]["browser_session_id"] for item in listed["items"]]

    fetched = result(summary, "get_browser_session")
    assert fetched["class"] == "BrowserSessionResponse"
    assert fetched["fields"]["browser_session_id"] == session_id

    # Another organization sees none of it and cannot close the session.
    error(summary, "other_org_get_run", 404)
    error(summary, "other_org_get_browser_session", 404)
    other_listed = result(summary, "other_org_get_browser_sessions")
    assert session_id not in [
        item["fields"]["browser_session_id"] for item in other_listed["items"]
    ]
    error(summary, "other_org_close_browser_session", 404)
    still_open = result(summary, "get_browser_session_after_other_org_close")
    assert still_open["fields"]["browser_session_id"] == session_id

    # Closing: the SDK accepts the answer, after which the session is gone.
    result(summary, "close_browser_session")
    gone = error(summary, "get_browser_session_after_close", 404)
    # Both SDKs declare 404 for this operation, so they raise their NotFoundError.
    assert gone["error"] == "NotFoundError", gone
    after_close = result(summary, "get_browser_sessions_after_close")
    assert session_id not in [item["fields"]["browser_session_id"] for item in after_close["items"]]

    # A key Harrier never issued.
    error(summary, "bad_key_get_run", 401)
    error(summary, "bad_key_get_browser_sessions", 401)

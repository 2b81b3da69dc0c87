"""GET /v1/runs/{run_id}."""

import pytest
from django.test import Client

from runs.models import Run, RunStatus, RunType
from tests.conftest import Tenant


def test_own_task_run_is_returned(tenant: Tenant) -> None:
    created = tenant.post("/v1/tasks", {"prompt": "p", "engine": "skyvern-1.0"}).json()
    response = tenant.get(f"/v1/runs/{created['run_id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_finished_run_shows_output_and_failure_reason(tenant: Tenant) -> None:
    run_id = tenant.post("/v1/tasks", {"prompt": "p"}).json()["run_id"]
    run = Run.objects.get(public_id=run_id)
    run.mark_running()
    run.finish(RunStatus.COMPLETED, output={"total": 12.5})
    body = tenant.get(f"/v1/runs/{run_id}").json()
    assert body["status"] == "completed"
    assert body["output"] == {"total": 12.5}
    assert body["modified_at"] >= body["created_at"]


def test_workflow_run_has_the_workflow_shape(tenant: Tenant) -> None:
    run = Run.objects.create(
        organization=tenant.organization,
        run_type=RunType.WORKFLOW_RUN,
        workflow_id="wpid_1",
        parameters={"invoice": "2026-11"},
        proxy_location="NONE",
    )
    body = tenant.get(f"/v1/runs/{run.public_id}").json()
    assert body["run_id"].startswith("wr_")
    assert body["run_type"] == "workflow_run"
    assert body["run_request"] == {
        "workflow_id": "wpid_1",
        "title": None,
        "parameters": {"invoice": "2026-11"},
        "proxy_location": "NONE",
        "webhook_url": None,
        "totp_url": None,
        "totp_identifier": None,
        "browser_session_id": None,
    }


@pytest.mark.parametrize("run_id", ["tsk_1", "nonsense", "wr_99999999999999999999", "tsk_%00x"])
def test_unknown_run_is_404_with_detail(tenant: Tenant, run_id: str) -> None:
    response = tenant.get(f"/v1/runs/{run_id}")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Run not found: ")


def test_other_organizations_run_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = other_tenant.post("/v1/tasks", {"prompt": "secret"}).json()["run_id"]
    response = tenant.get(f"/v1/runs/{theirs}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Run not found: {theirs}"}


def test_unknown_api_path_is_json_404(tenant: Tenant) -> None:
    response = tenant.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_run_lookup_needs_a_key(anonymous: Client, tenant: Tenant) -> None:
    run_id = tenant.post("/v1/tasks", {"prompt": "p"}).json()["run_id"]
    assert anonymous.get(f"/v1/runs/{run_id}").status_code == 401

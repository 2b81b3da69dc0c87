"""The runs API: start a task, read a run."""

from typing import Any

from django.http import HttpRequest
from ninja import Router

from dashboard.api import contract_extra
from dashboard.auth import organization_of
from dashboard.schemas import HTTPValidationError
from runs.models import Run
from runs.schemas import RunResponse, TaskRunRequest, TaskRunResponse
from runs.services import create_task_run, get_run_for

router = Router()

RUN_TASK_RESPONSES = {200: TaskRunResponse, 400: None, 422: HTTPValidationError}
RUN_TASK_DESCRIPTIONS = {200: "Successfully run task", 400: "Invalid agent engine"}


def run_response(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.public_id,
        "status": run.status,
        "output": run.output,
        "failure_reason": run.failure_reason,
        "created_at": run.created_at,
        "modified_at": run.modified_at,
        "run_type": run.run_type,
        "run_request": run.run_request,
    }


@router.post(
    "/tasks",
    response=RUN_TASK_RESPONSES,
    operation_id="run_task_v1_tasks_post",
    summary="Run a task",
    description="Run a task",
    tags=["Agent"],
    openapi_extra=contract_extra("agent", "run_task", RUN_TASK_DESCRIPTIONS),
)
def run_task(request: HttpRequest, payload: TaskRunRequest) -> dict[str, Any]:
    return run_response(create_task_run(organization_of(request), payload))


@router.post(
    "/run/tasks",
    response=RUN_TASK_RESPONSES,
    operation_id="run_task_v1_run_tasks_post",
    summary="Run a task",
    description="Run a task (the path current Skyvern SDKs call; same as POST /v1/tasks)",
    tags=["Agent"],
    openapi_extra={"responses": {200: {"description": "Successfully run task"}}},
)
def run_task_current_path(request: HttpRequest, payload: TaskRunRequest) -> dict[str, Any]:
    return run_task(request, payload)


@router.get(
    "/runs/{run_id}",
    response={200: RunResponse, 422: HTTPValidationError},
    operation_id="get_run_v1_runs__run_id__get",
    summary="Get Run",
    tags=["agent"],
    openapi_extra=contract_extra("agent", "get_run"),
)
def get_run(request: HttpRequest, run_id: str) -> dict[str, Any]:
    return run_response(get_run_for(organization_of(request), run_id))

"""The runs API: start a task, read a run."""

from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Router

from dashboard.api import contract_extra
from dashboard.auth import organization_of
from dashboard.schemas import HTTPValidationError
from runs.models import Artifact, Run, Step
from runs.schemas import RunResponse, TaskRunRequest, TaskRunResponse, TimelineResponse
from runs.services import create_task_run, get_artifact_for, get_run_for

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
        "error_codes": run.error_codes,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "step_count": run.steps.count(),
    }


def artifact_response(artifact: Artifact) -> dict[str, Any]:
    return {
        "artifact_id": artifact.public_id,
        "kind": artifact.kind,
        "name": artifact.name,
        "content_type": artifact.content_type,
        "size": artifact.size,
        "step_id": artifact.step.public_id if artifact.step else None,
        "created_at": artifact.created_at,
        "url": f"/v1/artifacts/{artifact.public_id}/content",
    }


def step_response(step: Step, screenshot: Artifact | None) -> dict[str, Any]:
    fields = [
        "order",
        "retry_index",
        "status",
        "mini_goal",
        "url",
        "page_title",
        "element_count",
        "observation",
        "reasoning",
        "actions",
        "error",
        "prompt_tokens",
        "completion_tokens",
        "model_calls",
        "observe_ms",
        "model_ms",
        "actions_ms",
        "started_at",
        "finished_at",
    ]
    return {
        "step_id": step.public_id,
        **{name: getattr(step, name) for name in fields},
        "screenshot": artifact_response(screenshot) if screenshot else None,
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


@router.post(
    "/runs/{run_id}/cancel",
    response={200: RunResponse},
    operation_id="cancel_run_v1_runs__run_id__cancel_post",
    summary="Cancel a run",
    description="Cancel a queued or running run. A queued run never starts; a running one "
    "stops before its next action. Runs that already finished are returned unchanged.",
    tags=["agent"],
)
def cancel_run(request: HttpRequest, run_id: str) -> dict[str, Any]:
    run = get_run_for(organization_of(request), run_id)
    run.cancel("Canceled through the API")
    return run_response(run)


@router.get(
    "/runs/{run_id}/timeline",
    response={200: TimelineResponse},
    operation_id="get_run_timeline_v1_runs__run_id__timeline_get",
    summary="Get a run's steps, actions and artifacts",
    tags=["agent"],
)
def get_run_timeline(request: HttpRequest, run_id: str) -> dict[str, Any]:
    run = get_run_for(organization_of(request), run_id)
    artifacts = list(run.artifacts.select_related("step"))
    screenshots = {a.step_id: a for a in artifacts if a.kind == "screenshot"}
    return {
        "run_id": run.public_id,
        "status": run.status,
        "steps": [step_response(step, screenshots.get(step.pk)) for step in run.steps.all()],
        "artifacts": [artifact_response(artifact) for artifact in artifacts],
    }


@router.get(
    "/artifacts/{artifact_id}/content",
    response={200: None},
    operation_id="get_artifact_content_v1_artifacts__artifact_id__content_get",
    summary="Download an artifact (screenshot, downloaded or uploaded file)",
    tags=["agent"],
)
def get_artifact_content(request: HttpRequest, artifact_id: str) -> FileResponse:
    artifact = get_artifact_for(organization_of(request), artifact_id)
    return FileResponse(
        artifact.file.open("rb"),
        content_type=artifact.content_type,
        as_attachment=artifact.kind != "screenshot",
        filename=artifact.name,
    )

"""The runs API: start a task, read a run."""

from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Query, Router

from dashboard.api import contract_extra
from dashboard.auth import organization_of
from dashboard.schemas import HTTPValidationError
from runs.models import Artifact, ArtifactKind, Run, Step
from runs.schemas import (
    ArtifactResponse,
    RunResponse,
    TaskRunRequest,
    TaskRunResponse,
    TimelineEntry,
)
from runs.services import artifact_file_response, create_task_run, get_artifact_for, get_run_for

router = Router()

RUN_TASK_RESPONSES = {200: TaskRunResponse, 400: None, 422: HTTPValidationError}
RUN_TASK_DESCRIPTIONS = {200: "Successfully run task", 400: "Invalid agent engine"}
# Harrier's names → the names Skyvern's clients know.
ARTIFACT_TYPES = {"screenshot": "screenshot_llm", "download": "download", "upload": "download"}
SKYVERN_ACTION_TYPES = {"download": "download_file", "complete": "complete"}
STEP_FIELDS = (
    "retry_index",
    "reasoning",
    "page_title",
    "element_count",
    "observation",
    "prompt_tokens",
    "completion_tokens",
    "model_calls",
    "observe_ms",
    "model_ms",
    "actions_ms",
)


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
    uri = f"/v1/artifacts/{artifact.public_id}/content"
    return {
        "artifact_id": artifact.public_id,
        "artifact_type": ARTIFACT_TYPES.get(artifact.kind, artifact.kind),
        "uri": uri,
        "signed_url": uri,
        "file_size": artifact.size,
        "name": artifact.name,
        "content_type": artifact.content_type,
        "run_id": artifact.run.public_id,
        "task_id": artifact.run.public_id,
        "step_id": artifact.step.public_id if artifact.step else None,
        "organization_id": artifact.run.organization.public_id,
        "created_at": artifact.created_at,
        "modified_at": artifact.created_at,
    }


def timeline_entry(run: Run, step: Step, screenshot: Artifact | None) -> dict[str, Any]:
    finished = step.finished_at or step.started_at
    block = {
        "workflow_run_block_id": step.public_id,
        "workflow_run_id": run.public_id,
        "organization_id": run.organization.public_id,
        "label": f"Step {step.order}"
        + (f" (retry {step.retry_index})" if step.retry_index else ""),
        "status": step.status,
        "failure_reason": step.error,
        "url": step.url,
        "navigation_goal": step.mini_goal or run.prompt,
        "actions": [
            timeline_action(step, index, action) for index, action in enumerate(step.actions)
        ],
        "duration": (finished - step.started_at).total_seconds() if step.finished_at else None,
        "created_at": step.started_at,
        "modified_at": finished,
        "step_order": step.order,
        "screenshot": artifact_response(screenshot) if screenshot else None,
        **{name: getattr(step, name) for name in STEP_FIELDS},
    }
    return {"block": block, "created_at": step.started_at, "modified_at": finished}


def timeline_action(step: Step, index: int, action: dict[str, Any]) -> dict[str, Any]:
    result = action.get("result") or {}
    option = action.get("option")
    return {
        "action_type": SKYVERN_ACTION_TYPES.get(action.get("type", ""), action.get("type", "")),
        "status": "completed" if result.get("ok") else "failed",
        "action_order": index,
        "step_id": step.public_id,
        "step_order": step.order,
        "element_id": action.get("element_id"),
        "text": action.get("text") or action.get("reason") or action.get("url"),
        "option": {"label": option} if isinstance(option, str) else None,
        "is_checked": action.get("checked"),
        "file_url": action.get("file_url"),
        "reasoning": step.reasoning,
        "response": result.get("error") or result.get("reasoning"),
        "downloaded_files": result.get("files"),
        "verified": result.get("verified"),
        "details": action,
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
    response={200: list[TimelineEntry]},
    operation_id="get_run_timeline_v1_runs__run_id__timeline_get",
    summary="Get a run's timeline: its steps with their actions",
    description="One entry per step (retries included), in the shape of Skyvern's workflow "
    "run timeline: each block holds the step's actions and results, the model's reasoning, "
    "timings, token usage and the step's screenshot.",
    tags=["agent"],
)
def get_run_timeline(request: HttpRequest, run_id: str) -> list[dict[str, Any]]:
    run = get_run_for(organization_of(request), run_id)
    screenshots = {
        artifact.step_id: artifact
        for artifact in run.artifacts.filter(kind=ArtifactKind.SCREENSHOT).select_related(
            "step", "run__organization"
        )
    }
    return [timeline_entry(run, step, screenshots.get(step.pk)) for step in run.steps.all()]


@router.get(
    "/runs/{run_id}/artifacts",
    response={200: list[ArtifactResponse]},
    operation_id="get_run_artifacts_v1_runs__run_id__artifacts_get",
    summary="List a run's artifacts (screenshots, downloaded files)",
    tags=["agent"],
)
def get_run_artifacts(
    request: HttpRequest, run_id: str, artifact_type: list[str] | None = Query(None)
) -> list[dict[str, Any]]:
    run = get_run_for(organization_of(request), run_id)
    artifacts = run.artifacts.select_related("step", "run__organization")
    wanted = set(artifact_type or [])
    return [
        artifact_response(artifact)
        for artifact in artifacts
        if not wanted or ARTIFACT_TYPES.get(artifact.kind, artifact.kind) in wanted
    ]


@router.get(
    "/artifacts/{artifact_id}/content",
    response={200: None},
    operation_id="get_artifact_content_v1_artifacts__artifact_id__content_get",
    summary="Download an artifact (screenshot, downloaded or uploaded file)",
    tags=["agent"],
)
def get_artifact_content(request: HttpRequest, artifact_id: str) -> FileResponse:
    return artifact_file_response(get_artifact_for(organization_of(request), artifact_id))

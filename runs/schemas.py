"""Request and response bodies of the runs API, field for field as the contract has them.

Titles, descriptions and defaults are part of the contract (they are what
`/openapi.json` publishes), so they are spelled exactly as in Skyvern's spec.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from dashboard.schemas import check_storable


class RunEngine(StrEnum):
    skyvern_v1 = "skyvern-1.0"
    skyvern_v2 = "skyvern-2.0"


class ProxyLocation(StrEnum):
    RESIDENTIAL = "RESIDENTIAL"
    US_CA = "US-CA"
    US_NY = "US-NY"
    US_TX = "US-TX"
    US_FL = "US-FL"
    US_WA = "US-WA"
    RESIDENTIAL_ES = "RESIDENTIAL_ES"
    RESIDENTIAL_IE = "RESIDENTIAL_IE"
    RESIDENTIAL_GB = "RESIDENTIAL_GB"
    RESIDENTIAL_IN = "RESIDENTIAL_IN"
    RESIDENTIAL_JP = "RESIDENTIAL_JP"
    RESIDENTIAL_FR = "RESIDENTIAL_FR"
    RESIDENTIAL_DE = "RESIDENTIAL_DE"
    RESIDENTIAL_NZ = "RESIDENTIAL_NZ"
    RESIDENTIAL_ZA = "RESIDENTIAL_ZA"
    RESIDENTIAL_AR = "RESIDENTIAL_AR"
    RESIDENTIAL_ISP = "RESIDENTIAL_ISP"
    NONE = "NONE"


class RunStatus(StrEnum):
    created = "created"
    queued = "queued"
    running = "running"
    timed_out = "timed_out"
    failed = "failed"
    terminated = "terminated"
    completed = "completed"
    canceled = "canceled"


class RunRequestBase(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)


class TaskRunRequest(RunRequestBase):
    prompt: str = Field(
        title="Prompt", description="The goal or task description for Skyvern to accomplish"
    )
    url: str | None = Field(
        default=None,
        title="Url",
        description="The starting URL for the task. If not provided, Skyvern will attempt "
        "to determine an appropriate URL",
    )
    title: str | None = Field(
        default=None, title="Title", description="Optional title for the task"
    )
    engine: RunEngine = Field(
        default=RunEngine.skyvern_v2,
        description="The Skyvern engine version to use for this task",
    )
    proxy_location: ProxyLocation | None = Field(
        default=ProxyLocation.RESIDENTIAL,
        description="Geographic Proxy location to route the browser traffic through",
    )
    data_extraction_schema: dict | list | str | None = Field(
        default=None,
        title="Data Extraction Schema",
        description="Schema defining what data should be extracted from the webpage",
    )
    error_code_mapping: dict[str, str] | None = Field(
        default=None,
        title="Error Code Mapping",
        description="Custom mapping of error codes to error messages if Skyvern encounters "
        "an error",
    )
    max_steps: int | None = Field(
        default=None,
        title="Max Steps",
        description="Maximum number of steps the task can take before timing out",
    )
    webhook_url: str | None = Field(
        default=None,
        title="Webhook Url",
        description="URL to send task status updates to after a run is finished",
    )
    totp_identifier: str | None = Field(
        default=None,
        title="Totp Identifier",
        description="Identifier for TOTP (Time-based One-Time Password) authentication if "
        "codes are being pushed to Skyvern",
    )
    totp_url: str | None = Field(
        default=None,
        title="Totp Url",
        description="URL for TOTP authentication setup if Skyvern should be polling endpoint "
        "for 2FA codes",
    )
    browser_session_id: str | None = Field(
        default=None,
        title="Browser Session Id",
        description="ID of an existing browser session to reuse, having it continue from "
        "the current screen state",
    )
    publish_workflow: bool = Field(
        default=False,
        title="Publish Workflow",
        description="Whether to publish this task as a reusable workflow. ",
    )


class WorkflowRunRequest(RunRequestBase):
    workflow_id: str = Field(title="Workflow Id", description="ID of the workflow to run")
    title: str | None = Field(
        default=None, title="Title", description="Optional title for this workflow run"
    )
    parameters: dict = Field(
        default={}, title="Parameters", description="Parameters to pass to the workflow"
    )
    proxy_location: ProxyLocation = Field(
        default=ProxyLocation.RESIDENTIAL,
        description="Location of proxy to use for this workflow run",
    )
    webhook_url: str | None = Field(
        default=None,
        title="Webhook Url",
        description="URL to send workflow status updates to after a run is finished",
    )
    totp_url: str | None = Field(
        default=None,
        title="Totp Url",
        description="URL for TOTP authentication setup if Skyvern should be polling endpoint "
        "for 2FA codes",
    )
    totp_identifier: str | None = Field(
        default=None,
        title="Totp Identifier",
        description="Identifier for TOTP (Time-based One-Time Password) authentication if "
        "codes are being pushed to Skyvern",
    )
    browser_session_id: str | None = Field(
        default=None,
        title="Browser Session Id",
        description="ID of an existing browser session to reuse, having it continue from "
        "the current screen state",
    )


class RunResponseBase(BaseModel):
    run_id: str = Field(title="Run Id", description="Unique identifier for this run")
    status: RunStatus = Field(description="Current status of the run")
    output: dict | list | str | None = Field(
        default=None,
        title="Output",
        description="Output data from the run, if any. Format depends on the schema in the input",
    )
    failure_reason: str | None = Field(
        default=None, title="Failure Reason", description="Reason for failure if the run failed"
    )
    created_at: datetime = Field(
        title="Created At", description="Timestamp when this run was created"
    )
    modified_at: datetime = Field(
        title="Modified At", description="Timestamp when this run was last modified"
    )
    # Extensions beyond the contract (optional, so contract clients ignore them).
    error_codes: list[str] | None = Field(
        default=None,
        description="Codes of error_code_mapping that matched why the run failed or terminated",
    )
    started_at: datetime | None = Field(default=None, description="When a worker started it")
    finished_at: datetime | None = Field(default=None, description="When it reached its status")
    step_count: int = Field(default=0, description="Steps taken so far (retries included)")


class TaskRunResponse(RunResponseBase):
    run_type: Literal["task_v1", "task_v2"] = Field(
        title="Run Type", description="Type of task run - either task_v1 or task_v2"
    )
    run_request: TaskRunRequest | None = Field(
        default=None, description="The original request parameters used to start this task run"
    )


class WorkflowRunResponse(RunResponseBase):
    run_type: Literal["workflow_run"] = Field(
        title="Run Type", description="Type of run - always workflow_run for workflow runs"
    )
    run_request: WorkflowRunRequest | None = Field(
        default=None,
        description="The original request parameters used to start this workflow run",
    )


RunResponse = Annotated[TaskRunResponse | WorkflowRunResponse, Field(discriminator="run_type")]


class ArtifactResponse(BaseModel):
    """Skyvern's Artifact shape (what `get_run_artifacts` of the SDK parses)."""

    artifact_id: str
    artifact_type: str = Field(description="screenshot_llm (a step's screenshot) or download")
    uri: str = Field(description="Where to download it (with the same API key)")
    signed_url: str | None = None
    file_size: int
    name: str
    content_type: str
    run_id: str
    task_id: str | None = None
    step_id: str | None = None
    organization_id: str
    created_at: datetime
    modified_at: datetime


class TimelineAction(BaseModel):
    """One action of a step in Skyvern's Action shape, with Harrier's own record of it."""

    action_type: str
    status: Literal["completed", "failed"]
    action_order: int
    step_id: str
    step_order: int
    element_id: str | None = None
    text: str | None = None
    option: dict[str, Any] | None = None
    is_checked: bool | None = None
    file_url: str | None = None
    reasoning: str | None = None
    response: str | None = Field(default=None, description="The error, when it failed")
    downloaded_files: list[str] | None = None
    verified: bool | None = None
    details: dict[str, Any] = Field(description="The action as the model gave it, with result")


class TimelineBlock(BaseModel):
    """A step, in the shape of Skyvern's WorkflowRunBlock; step_* fields are Harrier's."""

    workflow_run_block_id: str
    workflow_run_id: str
    organization_id: str
    block_type: str = "navigation"
    label: str
    status: str
    failure_reason: str | None
    url: str
    navigation_goal: str
    actions: list[TimelineAction]
    duration: float | None
    created_at: datetime
    modified_at: datetime
    step_order: int
    retry_index: int
    reasoning: str
    page_title: str
    element_count: int
    observation: str = Field(description="The page as the model saw it (text rendering)")
    prompt_tokens: int
    completion_tokens: int
    model_calls: int
    observe_ms: int
    model_ms: int
    actions_ms: int
    screenshot: ArtifactResponse | None


class TimelineEntry(BaseModel):
    """Skyvern's WorkflowRunTimeline shape: one entry per step."""

    type: Literal["block"] = "block"
    block: TimelineBlock
    thought: None = None
    children: list[Any] = Field(default_factory=list)
    created_at: datetime
    modified_at: datetime

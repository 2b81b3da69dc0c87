"""Runs: a task (skyvern-1.0 / skyvern-2.0) or a workflow run, and its lifecycle.

Status moves created → queued → running → one final status. Every change goes
through a method below, each a conditional UPDATE on the current status, so a
final status never changes again and two processes racing on one run cannot
both win.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from dashboard.ids import new_public_id
from dashboard.models import Organization


class RunStatus(models.TextChoices):
    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    TERMINATED = "terminated"
    COMPLETED = "completed"
    CANCELED = "canceled"


FINAL_STATUSES = frozenset(
    {
        RunStatus.TIMED_OUT,
        RunStatus.FAILED,
        RunStatus.TERMINATED,
        RunStatus.COMPLETED,
        RunStatus.CANCELED,
    }
)
ACTIVE_STATUSES = frozenset({RunStatus.CREATED, RunStatus.QUEUED, RunStatus.RUNNING})


class RunType(models.TextChoices):
    TASK_V1 = "task_v1", "Task (skyvern-1.0)"
    TASK_V2 = "task_v2", "Task (skyvern-2.0)"
    WORKFLOW_RUN = "workflow_run", "Workflow run"


class RunEngine(models.TextChoices):
    SKYVERN_V1 = "skyvern-1.0"
    SKYVERN_V2 = "skyvern-2.0"


RUN_TYPE_BY_ENGINE = {RunEngine.SKYVERN_V1: RunType.TASK_V1, RunEngine.SKYVERN_V2: RunType.TASK_V2}
ENGINE_BY_RUN_TYPE = {run_type: engine for engine, run_type in RUN_TYPE_BY_ENGINE.items()}
ID_PREFIX_BY_RUN_TYPE = {
    RunType.TASK_V1: "tsk_",
    RunType.TASK_V2: "tsk_v2_",
    RunType.WORKFLOW_RUN: "wr_",
}

TASK_REQUEST_FIELDS = (
    "prompt",
    "url",
    "title",
    "engine",
    "proxy_location",
    "data_extraction_schema",
    "error_code_mapping",
    "max_steps",
    "webhook_url",
    "totp_identifier",
    "totp_url",
    "browser_session_id",
    "publish_workflow",
)
WORKFLOW_REQUEST_FIELDS = (
    "workflow_id",
    "title",
    "parameters",
    "proxy_location",
    "webhook_url",
    "totp_url",
    "totp_identifier",
    "browser_session_id",
)


class InvalidTransition(Exception):
    """A status change the lifecycle does not allow (e.g. anything out of a final status)."""


class RunQuerySet(models.QuerySet["Run"]):
    def for_organization(self, organization: Organization) -> RunQuerySet:
        return self.filter(organization=organization)

    def active(self) -> RunQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)


class Run(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="runs")
    public_id = models.CharField(max_length=48, unique=True, editable=False)
    run_type = models.CharField(max_length=16, choices=RunType.choices)
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.CREATED, db_index=True
    )

    # The request, as given after normalization (TaskRunRequest / WorkflowRunRequest).
    prompt = models.TextField(blank=True, default="")
    url = models.TextField(null=True, blank=True)
    title = models.TextField(null=True, blank=True)
    engine = models.CharField(max_length=16, choices=RunEngine.choices, null=True, blank=True)
    proxy_location = models.CharField(max_length=32, null=True, blank=True)
    data_extraction_schema = models.JSONField(null=True, blank=True)
    error_code_mapping = models.JSONField(null=True, blank=True)
    max_steps = models.PositiveIntegerField(null=True, blank=True)
    webhook_url = models.TextField(null=True, blank=True)
    totp_identifier = models.TextField(null=True, blank=True)
    totp_url = models.TextField(null=True, blank=True)
    browser_session_id = models.CharField(max_length=48, null=True, blank=True, db_index=True)
    publish_workflow = models.BooleanField(default=False)
    workflow_id = models.CharField(max_length=48, null=True, blank=True)
    parameters = models.JSONField(null=True, blank=True)

    # What came of it.
    output = models.JSONField(null=True, blank=True)
    failure_reason = models.TextField(null=True, blank=True)
    # Codes from error_code_mapping the agent judged to match a failure or termination.
    error_codes = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched by the worker while it executes the run; a running run whose
    # heartbeat stopped belongs to a worker that died (see sweep_stale_runs).
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return self.public_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.public_id:
            self.public_id = new_public_id(ID_PREFIX_BY_RUN_TYPE[RunType(self.run_type)])
        if self.run_type in ENGINE_BY_RUN_TYPE:
            # A task's engine and run type are one fact stored twice; keep them in step.
            self.engine = ENGINE_BY_RUN_TYPE[RunType(self.run_type)]
        super().save(*args, **kwargs)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def run_request(self) -> dict[str, Any]:
        fields = (
            WORKFLOW_REQUEST_FIELDS
            if self.run_type == RunType.WORKFLOW_RUN
            else TASK_REQUEST_FIELDS
        )
        return {name: getattr(self, name) for name in fields}

    # --- state transitions ---------------------------------------------------

    def _transition(self, allowed_from: frozenset[str] | set[str], **changes: Any) -> bool:
        """Apply `changes` if the stored status is in `allowed_from`; refresh self either way."""
        changes["modified_at"] = timezone.now()
        updated = Run.objects.filter(pk=self.pk, status__in=allowed_from).update(**changes)
        self.refresh_from_db()
        return updated == 1

    def mark_queued(self) -> bool:
        return self._transition(
            {RunStatus.CREATED}, status=RunStatus.QUEUED, queued_at=timezone.now()
        )

    def mark_running(self) -> bool:
        """Claim a queued run for execution; False if someone else did or it was canceled."""
        now = timezone.now()
        return self._transition(
            {RunStatus.QUEUED}, status=RunStatus.RUNNING, started_at=now, heartbeat_at=now
        )

    def beat(self) -> bool:
        """Record that the worker is alive; False once the run is no longer running."""
        return (
            Run.objects.filter(pk=self.pk, status=RunStatus.RUNNING).update(
                heartbeat_at=timezone.now()
            )
            == 1
        )

    def finish(
        self,
        status: RunStatus | str,
        *,
        output: Any = None,
        failure_reason: str | None = None,
        error_codes: list[str] | None = None,
    ) -> bool:
        """Move to a final status. False (and nothing changes) if the run already is final."""
        status = RunStatus(status)
        if status not in FINAL_STATUSES:
            raise InvalidTransition(f"{status} is not a final status")
        return self._transition(
            ACTIVE_STATUSES,
            status=status,
            output=output,
            failure_reason=failure_reason,
            error_codes=error_codes or None,
            finished_at=timezone.now(),
        )

    def cancel(self, reason: str = "Canceled by request") -> bool:
        return self.finish(RunStatus.CANCELED, failure_reason=reason)


class StepStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Step(models.Model):
    """One observe → ask the model → act cycle of a run (a retry is a step of its own)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    public_id = models.CharField(max_length=48, unique=True, editable=False)
    order = models.PositiveIntegerField()
    retry_index = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.RUNNING)
    # skyvern-2.0: the mini-goal of the plan this step worked on.
    mini_goal = models.TextField(null=True, blank=True)
    url = models.TextField(blank=True, default="")
    page_title = models.TextField(blank=True, default="")
    element_count = models.PositiveIntegerField(default=0)
    observation = models.TextField(blank=True, default="")
    reasoning = models.TextField(blank=True, default="")
    # The model's actions, each with its outcome: {..., "result": {"ok", "error", "duration_ms"}}.
    actions = models.JSONField(default=list)
    error = models.TextField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    model_calls = models.PositiveIntegerField(default=0)
    observe_ms = models.PositiveIntegerField(default=0)
    model_ms = models.PositiveIntegerField(default=0)
    actions_ms = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "retry_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "order", "retry_index"], name="one_step_per_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"{self.run.public_id} step {self.order}.{self.retry_index}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.public_id:
            self.public_id = new_public_id("stp_")
        super().save(*args, **kwargs)


def artifact_upload_to(artifact: Artifact, filename: str) -> str:
    # Grouped by organization and run, so an operator can find (and delete) a run's files.
    return f"runs/{artifact.run.organization.public_id}/{artifact.run.public_id}/{filename}"


class ArtifactKind(models.TextChoices):
    SCREENSHOT = "screenshot"
    DOWNLOAD = "download"
    UPLOAD = "upload"


class Artifact(models.Model):
    """A file a run produced: step screenshots, downloaded files, uploaded files."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="artifacts")
    step = models.ForeignKey(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="artifacts"
    )
    public_id = models.CharField(max_length=48, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=ArtifactKind.choices)
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=artifact_upload_to, max_length=500)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.kind})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.public_id:
            self.public_id = new_public_id("a_")
        super().save(*args, **kwargs)

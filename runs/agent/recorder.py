"""Everything the agent writes to the database, as awaitables.

The agent runs inside an asyncio event loop (async Playwright), where the sync
ORM raises SynchronousOnlyOperation; each write here is one `sync_to_async`
call, so the agent never touches the ORM directly and no write is split across
threads.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.utils import timezone

from dashboard.ids import new_public_id
from runs.models import FINAL_STATUSES, Artifact, ArtifactKind, Run, RunStatus, Step, StepStatus


@dataclass
class StepRecord:
    """What the agent learned during one attempt of a step, written when it ends."""

    url: str = ""
    page_title: str = ""
    element_count: int = 0
    observation: str = ""
    reasoning: str = ""
    actions: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    observe_ms: int = 0
    model_ms: int = 0
    actions_ms: int = 0
    screenshot: bytes | None = None


@sync_to_async
def start_step(run: Run, order: int, retry_index: int, mini_goal: str | None) -> Step:
    return Step.objects.create(run=run, order=order, retry_index=retry_index, mini_goal=mini_goal)


@sync_to_async
def finish_step(step: Step, record: StepRecord, error: str | None = None) -> None:
    for name in (
        "url",
        "page_title",
        "element_count",
        "observation",
        "reasoning",
        "actions",
        "prompt_tokens",
        "completion_tokens",
        "model_calls",
        "observe_ms",
        "model_ms",
        "actions_ms",
    ):
        setattr(step, name, getattr(record, name))
    step.error = error
    step.status = StepStatus.FAILED if error else StepStatus.COMPLETED
    step.finished_at = timezone.now()
    step.save()
    if record.screenshot:
        _save_artifact(
            step.run, step, ArtifactKind.SCREENSHOT, f"{step.public_id}.png", record.screenshot
        )


@sync_to_async
def save_file(run: Run, step: Step | None, kind: ArtifactKind, path: Path) -> Artifact:
    return _save_artifact(run, step, kind, path.name, path.read_bytes())


def _save_artifact(
    run: Run, step: Step | None, kind: ArtifactKind, name: str, content: bytes
) -> Artifact:
    content_type = (
        "image/jpeg"
        if content[:3] == b"\xff\xd8\xff"
        else "image/png"
        if content[:8] == b"\x89PNG\r\n\x1a\n"
        else mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
    if kind == ArtifactKind.SCREENSHOT and content_type == "image/jpeg":
        name = name.rsplit(".", 1)[0] + ".jpg"
    artifact = Artifact(
        run=run,
        step=step,
        public_id=new_public_id("a_"),
        kind=kind,
        name=name,
        content_type=content_type,
        size=len(content),
    )
    # The id in the stored name keeps two downloads called "invoice.pdf" apart.
    artifact.file.save(f"{artifact.public_id}-{name}", ContentFile(content), save=False)
    artifact.save()
    return artifact


@sync_to_async
def run_status(run: Run) -> str:
    return Run.objects.filter(pk=run.pk).values_list("status", flat=True).get()


async def is_stopped(run: Run) -> bool:
    """True once the run is final (canceled by a person, or finished by the sweep)."""
    return await run_status(run) in FINAL_STATUSES


@sync_to_async
def heartbeat(run: Run) -> bool:
    return run.beat()


@sync_to_async
def finish(
    run: Run,
    status: RunStatus,
    *,
    output: Any = None,
    failure_reason: str | None = None,
    error_codes: list[str] | None = None,
) -> bool:
    return run.finish(status, output=output, failure_reason=failure_reason, error_codes=error_codes)

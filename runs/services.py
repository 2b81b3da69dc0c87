"""Starting runs: the rules a request must meet, shared by the API and the dashboard."""

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import FileResponse

from dashboard.errors import FieldError, FieldErrors, NotFound
from dashboard.ids import is_public_id
from dashboard.models import Organization
from dashboard.urlcheck import normalize_url
from runs.models import RUN_TYPE_BY_ENGINE, Artifact, ArtifactKind, Run, RunEngine, RunStatus
from runs.schemas import TaskRunRequest
from sessions.models import BrowserSession
from sessions.services import dispatch_next_run

logger = logging.getLogger(__name__)

URL_FIELDS = ("url", "webhook_url", "totp_url")
ENQUEUE_FAILED = (
    "Harrier could not hand this run to a worker: the task broker did not accept it. "
    "Check that the broker (CELERY_BROKER_URL) is reachable, then start the run again."
)


def create_task_run(organization: Organization, request: TaskRunRequest) -> Run:
    """Store a task run as requested (normalized), queue it, and dispatch it after commit."""
    fields = normalized_task_fields(organization, request)
    with transaction.atomic():
        run = Run.objects.create(
            organization=organization,
            run_type=RUN_TYPE_BY_ENGINE[RunEngine(fields["engine"])],
            **fields,
        )
        run.mark_queued()
        dispatch_on_commit(run)
    return run


def normalized_task_fields(organization: Organization, request: TaskRunRequest) -> dict[str, Any]:
    """The request's fields as a run stores them, or the rules it breaks (stores nothing).

    FieldErrors for rules on single fields, InvalidURL for a URL, NotFound for a browser
    session the organization does not have open. The API and the dashboard's form both
    call this, so they accept and refuse the same requests.
    """
    fields = request.model_dump(mode="json")
    errors = []
    if not fields["prompt"].strip():
        errors.append(FieldError("prompt", "the prompt must say what the agent should do"))
    limit = settings.HARRIER_MAX_STEPS_LIMIT
    if fields["max_steps"] is not None and not 1 <= fields["max_steps"] <= limit:
        errors.append(FieldError("max_steps", f"max_steps must be between 1 and {limit}"))
    if errors:
        raise FieldErrors(errors)

    for name in URL_FIELDS:
        value = fields[name]
        # An empty url means "none given": for `url` the agent then picks the start page.
        fields[name] = normalize_url(value) if value and value.strip() else None
    if fields["max_steps"] is None:
        fields["max_steps"] = settings.HARRIER_DEFAULT_MAX_STEPS[fields["engine"]]
    if fields["browser_session_id"]:
        BrowserSession.objects.get_active_for(organization, fields["browser_session_id"])
    return fields


def dispatch_on_commit(run: Run) -> None:
    """Send the run to a worker once the transaction that queued it has committed.

    This is Celery's `delay_on_commit`, plus what it leaves out: when the broker
    refuses the message, the run is finished as failed with a reason instead of
    waiting in `queued` for a worker that will never hear of it.
    """
    from runs.tasks import execute_run

    if run.browser_session_id:
        # To the host of the session's browser, and only when it is the run's turn.
        session = BrowserSession.objects.get(public_id=run.browser_session_id)
        dispatch_next_run(session)
        return

    def send() -> None:
        try:
            execute_run.delay(run.pk)
        except Exception:
            logger.exception("Could not enqueue run %s", run.public_id)
            run.finish(RunStatus.FAILED, failure_reason=ENQUEUE_FAILED)

    transaction.on_commit(send)


def get_run_for(organization: Organization, run_id: str) -> Run:
    run = None
    if is_public_id(run_id):
        run = Run.objects.for_organization(organization).filter(public_id=run_id).first()
    if run is None:
        raise NotFound(f"Run not found: {run_id}")
    return run


# Artifact types a browser may display inline; anything else (a file a site let the agent
# download could be HTML) is only ever served as an attachment.
INLINE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}


def artifact_file_response(artifact: Artifact) -> FileResponse:
    """The artifact's file, for the API and the dashboard alike; NotFound if storage lost it."""
    try:
        content = artifact.file.open("rb")
    except FileNotFoundError:
        raise NotFound(
            f"The file of artifact {artifact.public_id} is missing from storage"
        ) from None
    inline = artifact.kind == ArtifactKind.SCREENSHOT and artifact.content_type in INLINE_TYPES
    response = FileResponse(
        content,
        content_type=artifact.content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        filename=artifact.name,
    )
    # Files come from arbitrary websites: never let one run as a page of this origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def get_artifact_for(organization: Organization, artifact_id: str) -> Artifact:
    artifact = None
    if is_public_id(artifact_id):
        artifact = Artifact.objects.filter(
            run__organization=organization, public_id=artifact_id
        ).first()
    if artifact is None:
        raise NotFound(f"Artifact not found: {artifact_id}")
    return artifact

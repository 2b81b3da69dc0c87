"""Celery tasks that execute runs, and the sweep that finishes runs whose worker died."""

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from runs.models import FINAL_STATUSES, Run, RunStatus, Step, StepStatus
from sessions.services import claim_for_run, release_for_run

logger = logging.getLogger(__name__)

WORKER_LOST = (
    "The worker executing this run stopped responding (it was killed or crashed), "
    "so the run was ended. Start it again to retry."
)
STEP_ABANDONED = "The run ended before its worker recorded this step."
INTERNAL_ERROR = "Harrier hit an internal error while executing the run ({error}). It was logged."


@shared_task(
    name="runs.execute_run",
    ignore_result=True,
    # A backstop behind the agent's own time limit: past this, Celery kills the
    # process and the sweep finishes the run from its stale heartbeat.
    time_limit=settings.HARRIER_RUN_TIMEOUT_SECONDS + 120,
)
def execute_run(run_pk: int) -> None:
    """Claim a queued run and drive it to a final status.

    The claim is a conditional update (queued → running), so a message that is
    delivered twice, or one for a run canceled meanwhile, does nothing.
    """
    from runs.agent.runner import execute_claimed_run

    run = Run.objects.filter(pk=run_pk).first()
    if run is None or not _claim(run):
        logger.info("Run %s is not claimable now; skipping", run_pk)
        return
    try:
        execute_claimed_run(run)
    except Exception as exc:
        logger.exception("Run %s crashed the agent", run.public_id)
        run.finish(RunStatus.FAILED, failure_reason=INTERNAL_ERROR.format(error=type(exc).__name__))
    finally:
        if run.browser_session_id:
            release_for_run(run)


def _claim(run: Run) -> bool:
    # A run on a browser session also claims the session, atomically, and only in turn.
    return claim_for_run(run) if run.browser_session_id else run.mark_running()


@shared_task(name="runs.sweep_stale_runs", ignore_result=True)
def sweep_stale_runs() -> int:
    """Fail running runs whose heartbeat stopped; returns how many it finished."""
    cutoff = timezone.now() - timedelta(seconds=settings.HARRIER_HEARTBEAT_STALE_SECONDS)
    finished = 0
    for run in Run.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff):
        if run.finish(RunStatus.FAILED, failure_reason=WORKER_LOST):
            finished += 1
            if run.browser_session_id:  # its worker is gone: nobody drives the session
                release_for_run(run)
    if finished:
        logger.warning("Finished %d run(s) whose worker stopped responding", finished)
    _close_abandoned_steps(cutoff)
    return finished


def _close_abandoned_steps(cutoff: datetime) -> None:
    """Fail the steps of final runs that nobody will record any more.

    A run canceled mid-step keeps that step open until its worker writes it a moment
    later (the dashboard waits for it); a worker that died never will. Steps of runs
    the sweep just finished count too: their worker is known to be gone.
    """
    ended_a_while_ago = Q(run__status__in=FINAL_STATUSES, run__finished_at__lt=cutoff)
    worker_gone = Q(run__status=RunStatus.FAILED, run__failure_reason=WORKER_LOST)
    closed = Step.objects.filter(ended_a_while_ago | worker_gone, status=StepStatus.RUNNING).update(
        status=StepStatus.FAILED, error=STEP_ABANDONED, finished_at=timezone.now()
    )
    if closed:
        logger.warning("Closed %d step(s) left open by ended runs", closed)


@worker_process_shutdown.connect
def _close_browser(**_: Any) -> None:
    from runs.agent.runner import shutdown

    shutdown()

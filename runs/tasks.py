"""Celery tasks that execute runs."""

import logging

from celery import shared_task

from runs.models import Run, RunStatus

logger = logging.getLogger(__name__)

NO_AGENT = (
    "This Harrier installation cannot execute runs yet: the browser agent is not part of "
    "this version."
)


@shared_task(name="runs.execute_run", ignore_result=True)
def execute_run(run_pk: int) -> None:
    """Claim a queued run and drive it to a final status.

    The claim is a conditional update (queued → running), so a message that is
    delivered twice, or one for a run canceled meanwhile, does nothing.
    """
    run = Run.objects.filter(pk=run_pk).first()
    if run is None or not run.mark_running():
        logger.info("Run %s is not claimable; skipping", run_pk)
        return
    run.finish(RunStatus.FAILED, failure_reason=NO_AGENT)

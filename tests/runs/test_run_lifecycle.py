"""Run status transitions: created → queued → running → final, and final stays final."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from runs.agent import runner
from runs.models import FINAL_STATUSES, InvalidTransition, Run, RunStatus, RunType, Step
from runs.tasks import STEP_ABANDONED, execute_run, sweep_stale_runs
from tests.conftest import Tenant


@pytest.fixture
def in_process_worker() -> Iterator[None]:
    # execute_run here runs in this process: its agent's database connection lives in
    # asgiref's executor thread and would keep the test database from being dropped.
    yield
    runner.shutdown()


@pytest.fixture
def run(tenant: Tenant) -> Run:
    return Run.objects.create(
        organization=tenant.organization, run_type=RunType.TASK_V2, prompt="p"
    )


def test_new_run_is_created_with_a_prefixed_id(run: Run) -> None:
    assert run.status == RunStatus.CREATED
    assert run.public_id.startswith("tsk_v2_")


def test_happy_path_records_each_timestamp(run: Run) -> None:
    assert run.mark_queued()
    assert run.queued_at
    assert run.mark_running()
    assert run.started_at
    assert run.finish(RunStatus.COMPLETED, output=["a"])
    assert run.finished_at
    assert (run.status, run.output) == (RunStatus.COMPLETED, ["a"])


def test_only_a_queued_run_can_be_claimed_and_only_once(run: Run) -> None:
    assert not run.mark_running()  # still "created"
    run.mark_queued()
    assert run.mark_running()
    assert not Run.objects.get(pk=run.pk).mark_running()  # a second claim loses


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
def test_final_status_never_changes(run: Run, final: str) -> None:
    run.mark_queued()
    assert run.finish(final, failure_reason="first")
    for other in FINAL_STATUSES:
        assert not run.finish(other, failure_reason="second")
    assert not run.cancel()
    assert not run.mark_queued()
    assert not run.mark_running()
    run.refresh_from_db()
    assert (run.status, run.failure_reason) == (final, "first")


@pytest.mark.parametrize("status", [RunStatus.CREATED, RunStatus.QUEUED, RunStatus.RUNNING])
def test_finish_refuses_a_status_that_is_not_final(run: Run, status: RunStatus) -> None:
    with pytest.raises(InvalidTransition):
        run.finish(status)


def test_stale_copy_cannot_overwrite_a_newer_final_status(run: Run) -> None:
    run.mark_queued()
    stale = Run.objects.get(pk=run.pk)
    run.cancel("user asked")
    assert not stale.finish(RunStatus.COMPLETED, output={"x": 1})
    assert stale.status == RunStatus.CANCELED  # refreshed from the database
    assert stale.output is None


def test_cancel_of_queued_run(run: Run) -> None:
    run.mark_queued()
    assert run.cancel()
    assert run.status == RunStatus.CANCELED
    assert run.failure_reason == "Canceled by request"


@pytest.mark.django_db(transaction=True)
def test_without_a_model_provider_the_run_fails_at_once_naming_the_setting(
    run: Run, settings: object, in_process_worker: None
) -> None:
    settings.LLM_PROVIDER = ""  # type: ignore[attr-defined]
    run.mark_queued()
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "LLM_PROVIDER" in run.failure_reason
    finished_at = run.finished_at
    execute_run(run.pk)  # a second delivery of the same message claims nothing
    run.refresh_from_db()
    assert run.finished_at == finished_at


def test_worker_task_ignores_canceled_and_missing_runs(run: Run, in_process_worker: None) -> None:
    run.mark_queued()
    run.cancel()
    execute_run(run.pk)
    execute_run(10**9)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED


def test_sweep_closes_a_step_its_worker_never_recorded_once_the_run_has_ended(
    run: Run, settings: Any
) -> None:
    settings.HARRIER_HEARTBEAT_STALE_SECONDS = 60
    run.mark_queued()
    run.mark_running()
    step = Step.objects.create(run=run, order=1)
    run.cancel()

    sweep_stale_runs()  # just canceled: its worker may still record the step
    step.refresh_from_db()
    assert (step.status, step.finished_at) == ("running", None)

    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(minutes=5))
    sweep_stale_runs()
    step.refresh_from_db()
    assert (step.status, step.error) == ("failed", STEP_ABANDONED)
    assert step.finished_at is not None

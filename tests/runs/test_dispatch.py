"""A queued run reaches the broker once its transaction commits, and only then."""

from collections.abc import Iterator

import kombu.pools
import pytest
from django.db import transaction
from kombu import Connection

from dashboard.celery import app as celery_app
from runs.models import Run, RunStatus
from runs.schemas import TaskRunRequest
from runs.services import ENQUEUE_FAILED, create_task_run
from tests.conftest import Tenant


@pytest.fixture
def broker_queue() -> Iterator[object]:
    """The worker queue on the configured broker (Redis in CI, files when embedded), emptied."""
    with Connection(
        celery_app.conf.broker_url,
        transport_options=celery_app.conf.broker_transport_options,
    ) as connection:
        queue = connection.SimpleQueue(celery_app.conf.task_default_queue)
        queue.clear()
        yield queue
        queue.clear()
        queue.close()


def _next_message_args(queue: object) -> list:
    message = queue.get(timeout=10)  # type: ignore[attr-defined]
    message.ack()
    assert message.headers["task"] == "runs.execute_run"
    args, _kwargs, _embed = message.decode()
    return list(args)


@pytest.mark.django_db(transaction=True)
def test_created_task_is_sent_to_the_worker_queue(tenant: Tenant, broker_queue: object) -> None:
    run_id = tenant.post("/v1/tasks", {"prompt": "p"}).json()["run_id"]
    run = Run.objects.get(public_id=run_id)
    assert _next_message_args(broker_queue) == [run.pk]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_transaction_rolls_back(
    tenant: Tenant, broker_queue: object
) -> None:
    @transaction.atomic
    def create_then_fail() -> None:
        create_task_run(tenant.organization, TaskRunRequest(prompt="p"))
        raise RuntimeError("something later in the request failed")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert not Run.objects.exists()
    with pytest.raises(broker_queue.Empty):  # type: ignore[attr-defined]
        broker_queue.get(timeout=1)  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_unreachable_broker_fails_the_run_instead_of_leaving_it_queued(
    tenant: Tenant, settings: object
) -> None:
    original = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"  # discard port: nothing listens
    celery_app.conf.broker_transport_options = {}
    celery_app.conf.broker_connection_max_retries = 0
    _reset_connection_pools()
    try:
        body = tenant.post("/v1/tasks", {"prompt": "p"}).json()
    finally:
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = original
        celery_app.conf.broker_connection_max_retries = 100
        _reset_connection_pools()
    run = Run.objects.get(public_id=body["run_id"])
    assert run.status == RunStatus.FAILED
    assert run.failure_reason == ENQUEUE_FAILED


def _reset_connection_pools() -> None:
    """Make the app connect afresh with its current broker settings."""
    celery_app.pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()  # the producer pools kombu keeps per connection, process-wide

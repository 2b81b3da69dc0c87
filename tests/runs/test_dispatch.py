"""A queued run reaches the broker once its transaction commits, and only then."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from kombu import Connection

from dashboard.celery import app as celery_app
from runs.models import Run, RunStatus
from runs.schemas import TaskRunRequest
from runs.services import ENQUEUE_FAILED, create_task_run
from tests.conftest import Tenant
from tests.support.e2e import database_url_of


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
def test_unreachable_broker_fails_the_run_instead_of_leaving_it_queued(tenant: Tenant) -> None:
    # A process of its own whose broker is a port nothing listens on: the web process as
    # it would run with the broker down, without disturbing this process's connections.
    script = (
        "import django; django.setup()\n"
        "from dashboard.models import Organization\n"
        "from runs.schemas import TaskRunRequest\n"
        "from runs.services import create_task_run\n"
        f"org = Organization.objects.get(pk={tenant.organization.pk})\n"
        "print(create_task_run(org, TaskRunRequest(prompt='p')).public_id)\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": database_url_of(connection.settings_dict),
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",  # the discard port: refused at once
        "HARRIER_VAR_DIR": str(settings.VAR_DIR),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = Run.objects.get(public_id=result.stdout.split()[-1])
    assert run.status == RunStatus.FAILED
    assert run.failure_reason == ENQUEUE_FAILED

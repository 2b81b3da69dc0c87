"""The Celery app: `celery -A dashboard worker` and `celery -A dashboard beat`.

Every worker consumes the shared queue and a queue of its own host
(`<default queue>.host.<HARRIER_WORKER_HOST>`): a browser session's Chromium
lives on one host, so work on that browser (runs on the session, closing it,
screenshots) is sent to that host's queue.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def host_queue(host: str) -> str:
    return f"{app.conf.task_default_queue}.host.{host}"


def this_host() -> str:
    from django.conf import settings

    return settings.HARRIER_WORKER_HOST


@celeryd_after_setup.connect
def _consume_host_queue(sender: str, instance: Any, **_: Any) -> None:
    instance.app.amqp.queues.select_add(host_queue(this_host()))


@worker_ready.connect
def _reconcile_sessions(**_: Any) -> None:
    from sessions.services import reconcile_host_sessions

    reconcile_host_sessions(this_host())

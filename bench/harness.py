"""What the end-to-end benchmarks share: Django set up against the configured database
and broker, an organization with an API client, the fixture site, the scripted
model and a real worker process.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ.setdefault("HARRIER_ALLOW_PRIVATE_NETWORKS", "1")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from dashboard.celery import app as celery_app  # noqa: E402
from dashboard.models import ApiKey, Organization  # noqa: E402
from tests.support.e2e import Worker, database_url_of  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.site_server import FixtureSite  # noqa: E402


class TimedRequests(list[Any]):
    """The fixture site's request log, with the time each request arrived."""

    def append(self, item: Any) -> None:
        super().append((time.time(), *item))


@dataclass
class Harness:
    client: Client
    site: FixtureSite
    model: ScriptedModelServer
    worker: Worker

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    def get(self, path: str) -> dict[str, Any]:
        return self.client.get(path).json()


@contextmanager
def harness() -> Iterator[Harness]:
    call_command("migrate", verbosity=0)
    organization, _ = Organization.objects.get_or_create(name="bench")
    _, key = ApiKey.issue(organization, "bench")
    client = Client(headers={"x-api-key": key}, SERVER_NAME="localhost")
    site = FixtureSite().start()
    site.requests = TimedRequests()  # type: ignore[assignment]
    model = ScriptedModelServer().start()
    environment = {
        **os.environ,
        **model.llm_settings("openai"),
        "DATABASE_URL": database_url_of(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "HARRIER_VAR_DIR": str(settings.VAR_DIR),
    }
    worker = Worker(environment, Path(tempfile.mkdtemp()) / "worker.log")
    worker.start()
    try:
        yield Harness(client, site, model, worker)
    finally:
        worker.stop()
        model.stop()
        site.stop()


def describe_backends() -> str:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return f"broker {celery_app.conf.broker_url.split('://')[0]}, database {engine}"


def print_table(title: str, columns: dict[str, list[float]], unit: str = "ms") -> None:
    print(title)
    print(f"{'':<52}{'median':>10}{'p90':>10}{'min':>10}{'max':>10}")
    for label, values in columns.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        cells = [statistics.median(ordered), p90, ordered[0], ordered[-1]]
        print(f"{label:<52}" + "".join(f"{value:>8.1f}{unit:<2}" for value in cells))

"""Dispatch latency: POST /v1/tasks returns → a worker has claimed the run → first navigation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/harrier_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
    uv run python -m bench.dispatch [--runs 20]

Uses whatever database and broker the environment names (the embedded default
when nothing is set), migrates it, and starts what a user's request meets: the
web logic in this process, a real `celery -A dashboard worker` process, Chromium,
the fixture site and the scripted model on loopback. Times are wall-clock on one
machine: the run's `started_at` (written by the worker when it claims the run)
and the moment the fixture site received the browser's first request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
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
from runs.models import FINAL_STATUSES, Run  # noqa: E402
from tests.support.e2e import Worker, database_url_of  # noqa: E402
from tests.support.model_server import ScriptedModelServer  # noqa: E402
from tests.support.site_server import FixtureSite  # noqa: E402


class TimedRequests(list[Any]):
    """The fixture site's request log, with the time each request arrived."""

    def append(self, item: Any) -> None:
        super().append((time.time(), *item))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    organization, _ = Organization.objects.get_or_create(name="bench")
    _, key = ApiKey.issue(organization, "bench")
    client = Client(headers={"x-api-key": key}, SERVER_NAME="localhost")

    site = FixtureSite().start()
    site.requests = TimedRequests()  # type: ignore[assignment]
    model = ScriptedModelServer().start()
    model.add_rule("step", {"reasoning": "done", "actions": [{"type": "complete"}]})
    model.add_rule("verify_complete", {"goal_reached": True, "reasoning": "ok"})
    model.add_rule("extract", {"data": {}})
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
        rows = [measure(client, site, run=i) for i in range(args.runs + 2)][2:]  # 2 warm-ups
    finally:
        worker.stop()
        model.stop()
        site.stop()
    report(rows, broker=celery_app.conf.broker_url, database=settings.DATABASES["default"])


def measure(client: Client, site: FixtureSite, run: int) -> dict[str, float]:
    path = f"/table?bench={run}-{time.time_ns()}"
    before = time.time()
    response = client.post(
        "/v1/tasks",
        {"prompt": "bench", "url": f"{site.url}{path}", "engine": "skyvern-1.0"},
        content_type="application/json",
    )
    returned = time.time()
    run_id = response.json()["run_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = Run.objects.filter(public_id=run_id).values("status", "started_at").get()
        if row["status"] in FINAL_STATUSES:
            break
        time.sleep(0.02)
    else:
        sys.exit(f"run {run_id} did not finish: {row}")
    claimed: datetime = row["started_at"]
    navigated = next(at for at, method, p in site.requests if method == "GET" and p == path)
    return {
        "post_ms": (returned - before) * 1000,
        "claimed_ms": (claimed.timestamp() - returned) * 1000,
        "navigation_ms": (navigated - returned) * 1000,
    }


def report(rows: list[dict[str, float]], *, broker: str, database: dict[str, Any]) -> None:
    print(f"dispatch latency, {len(rows)} runs; broker {broker.split('://')[0]}, "
          f"database {database['ENGINE'].rsplit('.', 1)[-1]}")  # fmt: skip
    print(f"{'interval':<44}{'median':>10}{'p90':>10}{'min':>10}{'max':>10}")
    labels = {
        "post_ms": "POST /v1/tasks (request → response)",
        "claimed_ms": "response → worker claimed the run",
        "navigation_ms": "response → first navigation reached the site",
    }
    for name, label in labels.items():
        values = sorted(row[name] for row in rows)
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        print(
            f"{label:<44}{statistics.median(values):>8.1f}ms{p90:>8.1f}ms"
            f"{values[0]:>8.1f}ms{values[-1]:>8.1f}ms"
        )


if __name__ == "__main__":
    main()

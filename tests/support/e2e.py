"""End-to-end fixtures: a Celery worker process, the fixture site and the scripted model.

The path under test is the user's: API → database → broker → worker process →
Chromium → database → API. The worker is started as `celery -A dashboard worker`
with the test database and broker, and the scripted model server's URL as its
LLM_BASE_URL; it reaches the fixture site and the model over loopback.

Loaded as a plugin by tests/conftest.py. The `worker` fixture itself is declared
by each test package that needs one (package scope, see `start_worker`), so that
a worker never outlives the tests that wanted it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from dashboard.celery import app as celery_app
from dashboard.celery import host_queue, this_host
from runs.models import FINAL_STATUSES, Run
from tests.conftest import Tenant, make_tenant
from tests.support.model_server import ScriptedModelServer
from tests.support.site_server import FixtureSite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def site() -> Iterator[FixtureSite]:
    server = FixtureSite()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def model_server() -> Iterator[ScriptedModelServer]:
    server = ScriptedModelServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def model(model_server: ScriptedModelServer) -> ScriptedModelServer:
    model_server.reset()
    return model_server


def database_url_of(config: dict[str, Any]) -> str:
    """A Django database configuration as a DATABASE_URL, for a worker process."""
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    credentials = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return (
        f"postgres://{credentials}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/"
        f"{config['NAME']}"
    )


class Worker:
    """A `celery -A dashboard worker` process on its own queue."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.environment = environment
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "dashboard", "worker",
                "--loglevel", "INFO", "--concurrency", "1", "--pool", "prefork",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--hostname", f"e2e-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=ROOT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches its children
        )  # fmt: skip
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process and self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"celery worker did not start:\n{self.log()}")

    def child_pids(self) -> list[int]:
        assert self.process is not None
        result = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in result.stdout.split()]

    def kill_hard(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as an OOM kill would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_hard()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="session")
def worker_environment(
    django_db_setup: None,
    django_db_blocker: Any,
    model_server: ScriptedModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": celery_app.conf.broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": celery_app.conf.task_default_queue,
        # The same var/ as this process: media (screenshots) and, when embedded, the broker.
        "HARRIER_VAR_DIR": str(settings.VAR_DIR),
        "HARRIER_ALLOW_PRIVATE_NETWORKS": "1",
        "HARRIER_HEARTBEAT_SECONDS": "0.5",
        **model_server.llm_settings("openai"),
        "LLM_MAX_RETRIES": "1",
        "LLM_BACKOFF_BASE_SECONDS": "0.05",
        "LLM_TIMEOUT_SECONDS": "10",
        "HARRIER_STEP_RETRIES": "2",
    }


@pytest.fixture
def e2e_tenant(transactional_db: None, settings: Any) -> Tenant:
    # The fixture site lives on 127.0.0.1, which the API refuses unless allowed.
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = True
    return make_tenant("E2E")


RunWaiter = Callable[..., dict[str, Any]]


@pytest.fixture
def wait_for_run(e2e_tenant: Tenant, worker: Worker) -> RunWaiter:
    def wait(run_id: str, *, statuses: set[str] | None = None, timeout: float = 60) -> dict:
        wanted = statuses or {str(s) for s in FINAL_STATUSES}
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = e2e_tenant.get(f"/v1/runs/{run_id}").json()
            if body["status"] in wanted:
                return body
            time.sleep(0.1)
        raise AssertionError(
            f"run {run_id} still {body.get('status')} after {timeout}s; "
            f"db: {Run.objects.filter(public_id=run_id).values('status', 'failure_reason')}\n"
            f"worker log:\n{worker.log()}"
        )

    return wait


def element_id(request: Any, description: str) -> str:
    """The id the observation gave the element described, e.g. 'button "Sign in"'."""
    match = re.search(r"^\[(\w+)\] " + re.escape(description), request.text, re.MULTILINE)
    assert match, f"no element {description!r} in the observation:\n{request.text[-3000:]}"
    return match.group(1)


def start_worker(
    environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """Body of a package's `worker` fixture: a worker for that package's tests only.

    It must not outlive them: it would consume messages that other modules
    (tests/runs/test_dispatch.py) read from the queue themselves.
    """
    _purge_queues()
    process = Worker(environment, tmp_path_factory.mktemp("logs") / "worker.log")
    process.start()
    yield process
    process.stop()


def log_in(request: Any) -> dict[str, Any]:
    """A scripted step answer: sign in as alice on the fixture site's login page."""
    username = element_id(request, 'input type=text name="Username"')
    password = element_id(request, 'input type=password name="Password"')
    return {
        "reasoning": "The login form is shown; fill it in and submit.",
        "actions": [
            {"type": "input_text", "element_id": username, "text": "alice"},
            {"type": "input_text", "element_id": password, "text": "wonderland"},
            {"type": "click", "element_id": element_id(request, 'button "Sign in"')},
        ],
    }


def _purge_queues() -> None:
    """Drop messages an earlier test run left (their rows are gone, their ids reused)."""
    with celery_app.connection_for_write() as connection:
        for name in (celery_app.conf.task_default_queue, host_queue(this_host())):
            try:
                connection.default_channel.queue_purge(name)
            except Exception:
                continue

"""Executing a claimed run inside a worker process: browser context, heartbeat, time limit.

Each worker process keeps one asyncio event loop and one BrowserPool for its
whole life (a Playwright instance cannot cross a fork, and a browser launch
costs more than a run's fresh context). Celery calls `execute_claimed_run`
synchronously; it runs the agent on that loop.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from playwright.async_api import Error as PlaywrightError

from runs.agent import protocol, recorder
from runs.agent.browser import BrowserPool
from runs.agent.engine import Agent, Outcome, Stopped
from runs.agent.llm import LLMClient, LLMNotConfigured, client_from_settings
from runs.agent.sessions import session_page, target_id_of
from runs.models import Run, RunStatus
from sessions.models import BrowserSession

logger = logging.getLogger(__name__)

T = TypeVar("T")
_loop: asyncio.AbstractEventLoop | None = None
_pool: BrowserPool | None = None


def run_on_worker_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on this process's long-lived event loop."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    try:
        return _loop.run_until_complete(coroutine)
    finally:
        close_old_connections()
        # The agent's queries run in asgiref's executor thread, whose connection is
        # its own: check it too, or a broken or expired one outlives every run.
        _loop.run_until_complete(sync_to_async(close_old_connections)())


def execute_claimed_run(run: Run) -> None:
    """Drive a run that this process has claimed (status running) to a final status."""
    global _pool
    if _pool is None:
        _pool = BrowserPool()
    run_on_worker_loop(_execute(run, _pool))


def shutdown() -> None:
    """Close the browser and the agent's database connection when the process exits."""
    global _loop, _pool
    if _loop is not None and _pool is not None:
        _loop.run_until_complete(_pool.stop())
    if _loop is not None:
        _loop.run_until_complete(sync_to_async(connections.close_all)())
    _pool = None


async def _execute(run: Run, pool: BrowserPool) -> None:
    try:
        client = client_from_settings()
    except LLMNotConfigured as exc:
        await recorder.finish(run, RunStatus.FAILED, failure_reason=str(exc))
        return
    files_dir = Path(tempfile.mkdtemp(prefix=f"harrier-{run.public_id}-"))
    agent_task = asyncio.ensure_future(_drive(run, client, pool, files_dir))
    heartbeat_task = asyncio.ensure_future(_heartbeat(run, agent_task))
    limit = settings.HARRIER_RUN_TIMEOUT_SECONDS
    try:
        outcome = await asyncio.wait_for(agent_task, timeout=limit)
    except TimeoutError:
        outcome = Outcome(
            RunStatus.TIMED_OUT,
            failure_reason=f"The run did not finish within its time limit of {limit:g} seconds.",
        )
    except (asyncio.CancelledError, Stopped):
        return  # the run was made final elsewhere (canceled); nothing to write
    except PlaywrightError as exc:
        logger.warning("Browser failure in run %s: %s", run.public_id, exc)
        outcome = Outcome(
            RunStatus.FAILED,
            failure_reason="The browser crashed or closed unexpectedly while executing the run "
            f"({str(exc).splitlines()[0]}).",
        )
    finally:
        heartbeat_task.cancel()
        shutil.rmtree(files_dir, ignore_errors=True)
    error_codes = await _pick_error_codes(run, client, outcome)
    await recorder.finish(
        run,
        outcome.status,
        output=outcome.output,
        failure_reason=outcome.failure_reason,
        error_codes=error_codes,
    )


async def _drive(run: Run, client: LLMClient, pool: BrowserPool, files_dir: Path) -> Outcome:
    if run.browser_session_id:
        return await _drive_in_session(run, client, files_dir)
    async with pool.new_context(downloads_dir=files_dir) as context:
        page = await context.new_page()
        return await Agent(run, client, page, files_dir).execute()


async def _drive_in_session(run: Run, client: LLMClient, files_dir: Path) -> Outcome:
    """Continue in the session's browser, where the previous run left it, and leave it open."""
    session = await BrowserSession.objects.aget(public_id=run.browser_session_id)
    async with session_page(session.cdp_url, session.page_target_id) as page:
        try:
            return await Agent(run, client, page, files_dir, continues_session=True).execute()
        finally:
            if not page.is_closed():
                target_id = await target_id_of(page)
                await sync_to_async(session.set_page)(target_id)


async def _heartbeat(run: Run, agent_task: asyncio.Future[Outcome]) -> None:
    """Keep heartbeat_at fresh; stop the agent as soon as the run is final elsewhere."""
    while not agent_task.done():
        await asyncio.sleep(settings.HARRIER_HEARTBEAT_SECONDS)
        if not await recorder.heartbeat(run):
            agent_task.cancel()
            return


async def _pick_error_codes(run: Run, client: LLMClient, outcome: Outcome) -> list[str] | None:
    mapping = run.error_code_mapping
    if not mapping or outcome.status not in (RunStatus.FAILED, RunStatus.TERMINATED):
        return None
    try:
        answer, _ = await protocol.ask(
            client,
            protocol.error_codes_messages(run.prompt, mapping, outcome.failure_reason or ""),
            lambda text: protocol.parse_error_codes(text, mapping),
        )
    except Exception as exc:
        # The run's own failure matters more than the codes: keep it, note why none were picked.
        logger.warning("Could not pick error codes for %s: %s", run.public_id, exc)
        return None
    return list(answer.error_codes)

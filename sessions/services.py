"""What the API, the dashboard and the workers do with browser sessions.

Work on a session's browser goes to the queue of the host it lives on
(`session.host_queue`); everything else here is database state, changed through
the model's conditional updates.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.models import Organization
from runs.models import Run, RunQuerySet, RunStatus
from sessions import browsers
from sessions.models import BrowserSession, SessionStatus

logger = logging.getLogger(__name__)

SCREENSHOT_WAIT_SECONDS = 5.0
CLOSED_BEFORE_START = "The browser session {id} was closed before this run could start."
CLOSED_WHILE_RUNNING = "The browser session {id} was closed while this run was using it."
BROWSER_CRASHED = "The browser of session {id} stopped unexpectedly (it crashed or was killed)."
START_NOT_SENT = (
    "Harrier could not hand this session to a worker: the task broker did not accept it."
)
GONE_AT_START = "Its browser was no longer running when the worker host started."


def create_session(
    organization: Organization, *, timeout_minutes: int, proxy_location: str | None = None
) -> BrowserSession:
    """Store the session and have a worker start its browser once the row is committed."""
    with transaction.atomic():
        session = BrowserSession.objects.create(
            organization=organization,
            timeout_minutes=timeout_minutes,
            proxy_location=proxy_location,
        )
        transaction.on_commit(lambda: _send_start(session))
    return session


def _send_start(session: BrowserSession) -> None:
    from sessions.tasks import start_session_browser

    try:
        start_session_browser.delay(session.pk)
    except Exception:
        logger.exception("Could not enqueue the start of session %s", session.public_id)
        session.fail(START_NOT_SENT)


def close_session(session: BrowserSession, reason: str = "Closed by request") -> bool:
    """Close it, cancel the runs waiting for or using it, and end its browser. Idempotent."""
    holder = session.runnable_id
    if not session.close(reason):
        return False
    for run in Run.objects.filter(browser_session_id=session.public_id).active():
        message = CLOSED_WHILE_RUNNING if run.public_id == holder else CLOSED_BEFORE_START
        run.cancel(message.format(id=session.public_id))
    stop_browser(session)
    return True


def stop_browser(session: BrowserSession) -> None:
    """Have the owning host end the browser process (a no-op if it never started)."""
    from sessions.tasks import stop_session_browser

    if session.host:
        transaction.on_commit(
            lambda: stop_session_browser.apply_async((session.pk,), queue=session.host_queue)
        )


def fail_session(session: BrowserSession, reason: str) -> None:
    """The browser died: the session fails, and so do the runs that needed it."""
    if not session.fail(reason):
        return
    for run in Run.objects.filter(browser_session_id=session.public_id).active():
        run.finish(RunStatus.FAILED, failure_reason=reason)
    browsers.stop(session.pid, session.user_data_dir)


def dispatch_next_run(session: BrowserSession) -> None:
    """Send the session's oldest waiting run to its host, once the current transaction commits.

    The state is read after the commit, not before: a run committed while the
    holder releases the session is then seen by one side or the other (each reads
    after its own commit), so no waiting run is forgotten.
    """
    transaction.on_commit(lambda: _send_next_run(session.pk))


def _send_next_run(session_pk: int) -> None:
    from runs.tasks import execute_run

    session = BrowserSession.objects.filter(pk=session_pk).first()
    if session is None or session.status != SessionStatus.READY or session.runnable_id:
        return  # started when the browser is ready / when the current run releases it
    run = waiting_runs(session).first()
    if run is not None:
        execute_run.apply_async((run.pk,), queue=session.host_queue)


def waiting_runs(session: BrowserSession) -> RunQuerySet:
    return Run.objects.filter(
        browser_session_id=session.public_id, status=RunStatus.QUEUED
    ).order_by("created_at", "pk")


def claim_for_run(run: Run) -> bool:
    """Atomically make `run` the session's driver and mark it running.

    Only the oldest waiting run may claim an idle, ready session; the row lock
    (PostgreSQL) or the immediate transaction (SQLite) makes concurrent claims
    queue up, so a session never gets two drivers.
    """
    with transaction.atomic():
        session = (
            BrowserSession.objects.select_for_update()
            .filter(public_id=run.browser_session_id)
            .first()
        )
        run.refresh_from_db()
        if run.status != RunStatus.QUEUED:
            return False
        if session is None or session.is_closed:
            run.cancel(CLOSED_BEFORE_START.format(id=run.browser_session_id))
            return False
        if session.status != SessionStatus.READY or session.runnable_id:
            return False
        older = waiting_runs(session).filter(
            Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, pk__lt=run.pk)
        )
        if older.exists():
            return False
        if not run.mark_running():
            return False
        if not session.claim(run.run_type, run.public_id):  # cannot happen under the lock
            transaction.set_rollback(True)
            return False
        return True


def release_for_run(run: Run) -> None:
    """After a run on a session: free the session (or fail it if its browser died)."""
    session = BrowserSession.objects.filter(public_id=run.browser_session_id).first()
    if session is None:
        return
    if session.status == SessionStatus.READY and not browsers.is_alive(session.pid):
        fail_session(session, BROWSER_CRASHED.format(id=session.public_id))
        return
    with transaction.atomic():
        session.release(run.public_id)
        dispatch_next_run(session)


def reconcile_host_sessions(host: str) -> None:
    """At worker start: sessions of this host whose browser is gone are closed, and
    browsers still running for sessions that ended are stopped."""
    for session in BrowserSession.objects.on_host(host).filter(status=SessionStatus.READY):
        if not browsers.is_alive(session.pid):
            logger.warning("Session %s lost its browser; closing it", session.public_id)
            close_session(session, GONE_AT_START)
    end_leftover_browsers()


def end_leftover_browsers() -> None:
    """Stop the browsers (and remove the profiles) of sessions that are no longer open.

    A profile outlives its session when the message to stop its browser never reached a
    worker: the host's worker stopped first, or was killed. The folders are listed before
    the open sessions are read: a session's row exists before its browser's folder does,
    so one being started meanwhile is always seen as open.
    """
    profiles = browsers.profiles()
    still_open = set(
        BrowserSession.objects.active()
        .filter(public_id__in=[profile.name for profile in profiles])
        .values_list("public_id", flat=True)
    )
    for profile in profiles:
        if profile.name not in still_open:
            logger.warning("Stopping the leftover browser of session %s", profile.name)
            browsers.stop_leftover(profile)


def close_host_sessions(host: str, reason: str) -> int:
    """Close every open session whose browser lives on `host` and end those browsers now.

    For a host that is going away (`manage.py serve` stopping): its browsers would
    otherwise be left running with nobody to reach them.
    """
    closed = 0
    for session in BrowserSession.objects.on_host(host).active():
        if session.close(reason):
            closed += 1
            for run in Run.objects.filter(browser_session_id=session.public_id).active():
                run.cancel(CLOSED_WHILE_RUNNING.format(id=session.public_id))
        browsers.stop(session.pid, session.user_data_dir)
    return closed


def capture_screenshot(session: BrowserSession) -> bytes | None:
    """The session's current page as an image: a fresh capture when its host answers in
    time, else the last one taken (None if there never was one)."""
    from sessions.tasks import capture_session_screenshot

    if session.status == SessionStatus.READY:
        asked_at = timezone.now()
        capture_session_screenshot.apply_async((session.pk,), queue=session.host_queue)
        deadline = time.monotonic() + SCREENSHOT_WAIT_SECONDS
        while time.monotonic() < deadline:
            session.refresh_from_db(fields=["screenshot", "screenshot_at"])
            if session.screenshot_at and session.screenshot_at >= asked_at:
                break
            time.sleep(0.05)
    if not session.screenshot:
        return None
    try:
        with session.screenshot.open("rb") as image:
            return image.read()
    except FileNotFoundError:
        return None

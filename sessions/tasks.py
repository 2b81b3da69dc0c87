"""Celery tasks for session browsers. Those that touch a browser run on its host's queue."""

import logging

from celery import shared_task
from django.core.files.base import ContentFile
from django.utils import timezone

from dashboard.celery import this_host
from sessions import browsers
from sessions.models import BrowserSession, SessionStatus
from sessions.services import (
    BROWSER_CRASHED,
    close_session,
    dispatch_next_run,
    fail_session,
)

logger = logging.getLogger(__name__)


@shared_task(name="sessions.tasks.start_session_browser", ignore_result=True)
def start_session_browser(session_pk: int) -> None:
    """Start the session's Chromium on this host and record where it lives."""
    session = BrowserSession.objects.filter(pk=session_pk).first()
    if session is None or session.status != SessionStatus.CREATING:
        return
    try:
        browser = browsers.launch(session.public_id)
    except browsers.BrowserStartFailed as exc:
        session.fail(f"The browser could not be started: {exc}")
        return
    ready = session.mark_ready(
        host=this_host(),
        cdp_url=browser.cdp_url,
        pid=browser.pid,
        user_data_dir=str(browser.user_data_dir),
    )
    if not ready:  # closed while the browser started
        browsers.stop(browser.pid, str(browser.user_data_dir))
        return
    dispatch_next_run(session)


@shared_task(name="sessions.tasks.stop_session_browser", ignore_result=True)
def stop_session_browser(session_pk: int) -> None:
    session = BrowserSession.objects.filter(pk=session_pk).first()
    if session is not None and session.host == this_host():
        browsers.stop(session.pid, session.user_data_dir)


@shared_task(name="sessions.tasks.close_expired_sessions", ignore_result=True)
def close_expired_sessions() -> int:
    """Close every session past its timeout; returns how many this sweep closed."""
    closed = sum(
        close_session(session, "Closed after its timeout")
        for session in BrowserSession.objects.expired()
    )
    if closed:
        logger.info("Closed %d expired browser session(s)", closed)
    return closed


@shared_task(name="sessions.tasks.check_sessions", ignore_result=True)
def check_sessions() -> None:
    """Periodic: ask each ready session's host whether its browser still lives, and start
    waiting runs on idle sessions (in case a dispatch was lost)."""
    for session in BrowserSession.objects.filter(status=SessionStatus.READY):
        check_session_browser.apply_async((session.pk,), queue=session.host_queue)
        dispatch_next_run(session)


@shared_task(name="sessions.tasks.check_session_browser", ignore_result=True)
def check_session_browser(session_pk: int) -> None:
    session = BrowserSession.objects.filter(pk=session_pk, status=SessionStatus.READY).first()
    if session is None or session.host != this_host():
        return
    if not browsers.is_alive(session.pid):
        logger.warning("The browser of session %s is gone", session.public_id)
        fail_session(session, BROWSER_CRASHED.format(id=session.public_id))


@shared_task(name="sessions.tasks.capture_session_screenshot", ignore_result=True)
def capture_session_screenshot(session_pk: int) -> None:
    from runs.agent.runner import run_on_worker_loop
    from runs.agent.sessions import screenshot_of

    session = BrowserSession.objects.filter(pk=session_pk, status=SessionStatus.READY).first()
    if session is None or session.host != this_host():
        return
    image = run_on_worker_loop(screenshot_of(session.cdp_url, session.page_target_id))
    if image is None:
        return
    _store_screenshot(session, image)


def _store_screenshot(session: BrowserSession, image: bytes) -> None:
    old_name = session.screenshot.name if session.screenshot else ""
    session.screenshot.save(f"{session.public_id}.jpg", ContentFile(image), save=False)
    BrowserSession.objects.filter(pk=session.pk).update(
        screenshot=session.screenshot.name, screenshot_at=timezone.now()
    )
    if old_name and old_name != session.screenshot.name:
        session.screenshot.storage.delete(old_name)

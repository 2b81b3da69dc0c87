"""Periodic upkeep of browser sessions."""

import logging

from celery import shared_task

from sessions.models import BrowserSession

logger = logging.getLogger(__name__)


@shared_task(name="sessions.tasks.close_expired_sessions", ignore_result=True)
def close_expired_sessions() -> int:
    """Close every session past its timeout; returns how many this sweep closed."""
    closed = sum(session.close() for session in BrowserSession.objects.expired())
    if closed:
        logger.info("Closed %d expired browser session(s)", closed)
    return closed

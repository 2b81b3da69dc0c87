"""Browser sessions: a live Chromium an organization keeps open for runs to continue in.

A session's browser runs on one worker host (`host`), reachable there over CDP on
loopback (`cdp_url`). Its lifecycle: creating → ready → closed (closed by a
person, the API or the timeout sweep) or failed (its browser died). Runs use it
one at a time: `runnable_id` names the run driving it, claimed and released
with conditional updates so two runs can never hold it together.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from dashboard.errors import NotFound
from dashboard.ids import is_public_id, new_public_id
from dashboard.models import Organization

DEFAULT_TIMEOUT_MINUTES = 60
MIN_TIMEOUT_MINUTES = 5
MAX_TIMEOUT_MINUTES = 240


def new_session_id() -> str:
    return new_public_id("pbs_")


class SessionStatus(models.TextChoices):
    CREATING = "creating"
    READY = "ready"
    CLOSED = "closed"
    FAILED = "failed"


OPEN_STATUSES = (SessionStatus.CREATING, SessionStatus.READY)


class BrowserSessionQuerySet(models.QuerySet["BrowserSession"]):
    def active(self) -> BrowserSessionQuerySet:
        return self.filter(deleted_at__isnull=True)

    def for_organization(self, organization: Organization) -> BrowserSessionQuerySet:
        return self.filter(organization=organization)

    def get_for(self, organization: Organization, session_id: str) -> BrowserSession:
        """The organization's session with this id, open or closed; NotFound otherwise."""
        session = None
        if is_public_id(session_id):
            session = self.for_organization(organization).filter(public_id=session_id).first()
        if session is None:
            raise NotFound(f"Browser session not found: {session_id}")
        return session

    def get_active_for(self, organization: Organization, session_id: str) -> BrowserSession:
        """The organization's open session with this id; NotFound for anything else."""
        session = self.get_for(organization, session_id)
        if session.is_closed:
            raise NotFound(f"Browser session not found: {session_id}")
        return session

    def expired(self) -> BrowserSessionQuerySet:
        return self.active().filter(expires_at__lte=timezone.now())

    def on_host(self, host: str) -> BrowserSessionQuerySet:
        return self.filter(host=host)


class BrowserSession(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="browser_sessions"
    )
    public_id = models.CharField(max_length=48, unique=True, default=new_session_id)
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.CREATING
    )
    # What is driving the browser right now (a run's type and id); empty when idle.
    runnable_type = models.CharField(max_length=32, null=True, blank=True)
    runnable_id = models.CharField(max_length=48, null=True, blank=True)
    timeout_minutes = models.PositiveIntegerField(default=DEFAULT_TIMEOUT_MINUTES)
    proxy_location = models.CharField(max_length=32, null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    # Where the browser lives: the worker host that started it, and how to reach it there.
    host = models.CharField(max_length=255, blank=True, default="")
    cdp_url = models.CharField(max_length=255, blank=True, default="")
    pid = models.PositiveIntegerField(null=True, blank=True)
    user_data_dir = models.TextField(blank=True, default="")
    # The tab runs continue in (a CDP target id, stable across connections).
    page_target_id = models.CharField(max_length=64, blank=True, default="")
    failure_reason = models.TextField(null=True, blank=True)
    screenshot = models.FileField(upload_to="sessions/", blank=True, max_length=500)
    screenshot_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    modified_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = BrowserSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.public_id

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.expires_at is None:
            self.expires_at = self.created_at + timedelta(minutes=self.timeout_minutes)
        super().save(*args, **kwargs)

    @property
    def is_closed(self) -> bool:
        return self.deleted_at is not None

    @property
    def host_queue(self) -> str:
        from dashboard.celery import host_queue

        return host_queue(self.host)

    def _update(self, conditions: dict[str, Any], **changes: Any) -> bool:
        """Apply `changes` if the row still matches `conditions`; refresh self either way."""
        changes["modified_at"] = timezone.now()
        updated = BrowserSession.objects.filter(pk=self.pk, **conditions).update(**changes)
        self.refresh_from_db()
        return updated == 1

    # --- lifecycle ------------------------------------------------------------------

    def mark_ready(self, *, host: str, cdp_url: str, pid: int, user_data_dir: str) -> bool:
        """The browser is up; False if the session was closed while it started."""
        return self._update(
            {"status": SessionStatus.CREATING},
            status=SessionStatus.READY,
            host=host,
            cdp_url=cdp_url,
            pid=pid,
            user_data_dir=user_data_dir,
            started_at=timezone.now(),
        )

    def close(self, reason: str | None = None) -> bool:
        """Close the session; True if this call closed it, False if it already was closed."""
        now = timezone.now()
        return self._update(
            {"deleted_at__isnull": True},
            status=SessionStatus.CLOSED,
            deleted_at=now,
            runnable_type=None,
            runnable_id=None,
            failure_reason=reason,
        )

    def fail(self, reason: str) -> bool:
        """The browser died or never started: the session ends as failed."""
        return self._update(
            {"deleted_at__isnull": True},
            status=SessionStatus.FAILED,
            deleted_at=timezone.now(),
            runnable_type=None,
            runnable_id=None,
            failure_reason=reason,
        )

    # --- who drives it ------------------------------------------------------------------

    def claim(self, run_type: str, run_id: str) -> bool:
        """Make `run_id` the only driver; False if the session is busy or not ready."""
        return self._update(
            {
                "status": SessionStatus.READY,
                "runnable_id__isnull": True,
                "deleted_at__isnull": True,
            },
            runnable_type=run_type,
            runnable_id=run_id,
        )

    def release(self, run_id: str) -> bool:
        """Free the session if `run_id` holds it (a no-op for anyone else)."""
        return self._update({"runnable_id": run_id}, runnable_type=None, runnable_id=None)

    def set_page(self, target_id: str) -> None:
        self._update({}, page_target_id=target_id)

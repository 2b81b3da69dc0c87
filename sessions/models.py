"""Browser sessions: a browser an organization keeps open for runs to continue in."""

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


class BrowserSession(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="browser_sessions"
    )
    public_id = models.CharField(max_length=48, unique=True, default=new_session_id)
    # What is driving the browser right now (a run's type and id); empty when idle.
    runnable_type = models.CharField(max_length=32, null=True, blank=True)
    runnable_id = models.CharField(max_length=48, null=True, blank=True)
    timeout_minutes = models.PositiveIntegerField(default=DEFAULT_TIMEOUT_MINUTES)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
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

    def close(self) -> bool:
        """Close the session; True if this call closed it, False if it already was closed."""
        now = timezone.now()
        closed = (
            BrowserSession.objects.filter(pk=self.pk, deleted_at__isnull=True).update(
                deleted_at=now, modified_at=now, runnable_type=None, runnable_id=None
            )
            == 1
        )
        self.refresh_from_db()
        return closed

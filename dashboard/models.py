"""Organizations own everything: their members, API keys, runs and browser sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from dashboard.ids import new_public_id

API_KEY_PREFIX = "hk_"
# Characters of the key kept in clear to find its row; the rest is only hashed.
API_KEY_LOOKUP_LENGTH = len(API_KEY_PREFIX) + 10
# last_used_at is a hint for people, not an audit log: refresh it at most this
# often so that busy API clients do not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_organization_id() -> str:
    return new_public_id("o_")


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Organization(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=new_organization_id)
    name = models.CharField(max_length=200, unique=True)
    # Webhooks are signed with this (Skyvern signs with the API key, which
    # Harrier never stores in clear).
    webhook_signing_secret = models.CharField(max_length=80, default=new_webhook_secret)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def rotate_webhook_secret(self) -> str:
        self.webhook_signing_secret = new_webhook_secret()
        self.save(update_fields=["webhook_signing_secret", "modified_at"])
        return self.webhook_signing_secret


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


def hash_api_key(key: str) -> str:
    return hmac.new(
        settings.HARRIER_API_KEY_PEPPER.encode(), key.encode(), hashlib.sha256
    ).hexdigest()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """An API key, stored as healthchecks stores them: a lookup prefix and an HMAC.

    The full key exists only in the return value of `ApiKey.issue`; it is shown
    to the person once and cannot be recovered afterwards.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=API_KEY_LOOKUP_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.lookup}…)"

    @classmethod
    def issue(cls, organization: Organization, name: str) -> tuple[ApiKey, str]:
        """Create a key; returns the row and the only copy of the key itself."""
        for _ in range(5):
            key = API_KEY_PREFIX + secrets.token_urlsafe(32)
            try:
                with transaction.atomic():
                    api_key = cls.objects.create(
                        organization=organization,
                        name=name,
                        lookup=key[:API_KEY_LOOKUP_LENGTH],
                        key_hash=hash_api_key(key),
                    )
            except IntegrityError:  # lookup collision: astronomically rare, try a new key
                continue
            return api_key, key
        raise RuntimeError("could not generate a unique API key")

    @classmethod
    def authenticate(cls, key: str) -> ApiKey | None:
        """The active key matching `key`, or None. Constant-time on the secret part."""
        if not key.startswith(API_KEY_PREFIX) or len(key) <= API_KEY_LOOKUP_LENGTH:
            return None
        candidate = (
            cls.objects.active()
            .select_related("organization")
            .filter(lookup=key[:API_KEY_LOOKUP_LENGTH])
            .first()
        )
        if candidate is None or not hmac.compare_digest(candidate.key_hash, hash_api_key(key)):
            return None
        candidate.touch()
        return candidate

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def touch(self) -> None:
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=self.revoked_at
            )

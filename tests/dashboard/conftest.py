"""Fixtures of the dashboard tests: people with roles in two organizations, signed in.

`tenant` (Acme) and `other_tenant` (Globex) come from tests/conftest.py; here they
get members. One organization must never see the other's data: `outsider` is an
owner of Globex, signed in, who must get 404s for anything of Acme's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from dashboard.models import Membership, Organization
from runs.models import Artifact, ArtifactKind, Run, RunStatus, RunType, Step, StepStatus
from tests.conftest import Tenant
from tests.support.e2e import Worker, start_worker

PASSWORD = "correct-horse-battery-staple"
# The smallest valid PNG: a screenshot for tests that do not need a real one.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5e1ab8f0000000049454e44ae426082"
)


@dataclass
class Person:
    user: AbstractUser
    membership: Membership | None
    client: Client

    def htmx(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, HTTP_HX_REQUEST="true", **extra)


def make_person(username: str, organization: Organization | None, role: str = "member") -> Person:
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", password=PASSWORD
    )
    membership = (
        Membership.objects.create(organization=organization, user=user, role=role)
        if organization
        else None
    )
    client = Client()
    client.force_login(user)
    return Person(user, membership, client)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # PBKDF2's deliberate slowness is for stored passwords, not for test users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(tenant: Tenant) -> Person:
    return make_person("olivia", tenant.organization, Membership.Role.OWNER)


@pytest.fixture
def admin(tenant: Tenant) -> Person:
    return make_person("adam", tenant.organization, Membership.Role.ADMIN)


@pytest.fixture
def member(tenant: Tenant) -> Person:
    return make_person("mia", tenant.organization, Membership.Role.MEMBER)


@pytest.fixture
def outsider(other_tenant: Tenant) -> Person:
    return make_person("oscar", other_tenant.organization, Membership.Role.OWNER)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """Artifacts stored under a temporary folder instead of var/media."""
    location = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


def make_run(organization: Organization, **fields: Any) -> Run:
    fields.setdefault("run_type", RunType.TASK_V1)
    fields.setdefault("prompt", "Find the price of the cheapest plan")
    fields.setdefault("url", "https://example.com/")
    fields.setdefault("max_steps", 10)
    return Run.objects.create(organization=organization, **fields)


def make_step(run: Run, order: int, **fields: Any) -> Step:
    fields.setdefault("status", StepStatus.COMPLETED)
    if fields["status"] != StepStatus.RUNNING:
        fields.setdefault("finished_at", timezone.now())
    fields.setdefault("reasoning", "The pricing table is visible.")
    fields.setdefault("page_title", "Pricing")
    fields.setdefault("url", "https://example.com/pricing")
    fields.setdefault(
        "actions",
        [{"type": "click", "element_id": "e3", "result": {"ok": True, "message": "Clicked e3"}}],
    )
    return Step.objects.create(run=run, order=order, **fields)


def make_screenshot(run: Run, step: Step | None) -> Artifact:
    artifact = Artifact(run=run, step=step, kind=ArtifactKind.SCREENSHOT, name="shot.png")
    artifact.content_type = "image/png"
    artifact.size = len(PNG)
    artifact.file.save("shot.png", ContentFile(PNG), save=False)
    artifact.save()
    return artifact


def finished_run(organization: Organization, status: str = RunStatus.COMPLETED, **kw: Any) -> Run:
    run = make_run(organization, **kw)
    run.mark_queued()
    run.mark_running()
    run.finish(status, output=kw.get("output"))
    return run


# --- browser tests -----------------------------------------------------------------------


@pytest.fixture(scope="package")
def worker(
    worker_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    yield from start_worker(worker_environment, tmp_path_factory)

"""Fixtures shared by the whole suite: two organizations that must never see each other."""

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from dashboard.models import ApiKey, Organization

pytest_plugins = ["tests.support.e2e"]


@dataclass
class Tenant:
    """An organization, one of its API keys, and an API client that sends that key."""

    organization: Organization
    api_key: ApiKey
    key: str
    client: Client

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **extra)

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        if data is None:  # no body at all, as SDK clients send for bodiless POSTs
            return self.client.generic("POST", path, **extra)
        return self.client.post(path, data, content_type="application/json", **extra)


def make_tenant(name: str) -> Tenant:
    organization = Organization.objects.create(name=name)
    api_key, key = ApiKey.issue(organization, f"{name} key")
    return Tenant(organization, api_key, key, Client(headers={"x-api-key": key}))


@pytest.fixture
def tenant(db: None) -> Tenant:
    return make_tenant("Acme")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return make_tenant("Globex")


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def allow_private_networks(settings: Any) -> None:
    settings.HARRIER_ALLOW_PRIVATE_NETWORKS = True

"""Operator commands: create_api_key and the first-run bootstrap."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from dashboard.models import ApiKey, Membership, Organization


def _run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().rstrip("\n").splitlines()


def test_create_api_key_creates_the_organization_and_prints_a_working_key(db: None) -> None:
    lines = _run("create_api_key", "--org", "Initech", "--name", "ci")
    key = lines[-1]
    organization = Organization.objects.get(name="Initech")
    assert organization.api_keys.get().name == "ci"
    response = Client(headers={"x-api-key": key}).post(
        "/v1/browser_sessions", "{}", content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["organization_id"] == organization.public_id


def test_create_api_key_reuses_an_existing_organization(db: None) -> None:
    first = _run("create_api_key", "--org", "Initech")[-1]
    second = _run("create_api_key", "--org", "Initech")[-1]
    assert first != second
    assert Organization.objects.count() == 1
    assert ApiKey.objects.count() == 2


def test_key_is_not_stored_in_clear(db: None) -> None:
    key = _run("create_api_key", "--org", "Initech")[-1]
    stored = ApiKey.objects.values_list("lookup", "key_hash", "name").get()
    assert key not in stored


def test_bootstrap_creates_org_admin_and_key_once(db: None) -> None:
    output = "\n".join(_run("bootstrap"))
    organization = Organization.objects.get()
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser
    assert Membership.objects.get(user=user, organization=organization).role == "owner"
    key = next(line.strip() for line in output.splitlines() if line.strip().startswith("hk_"))
    assert ApiKey.authenticate(key) is not None
    password = output.split("password ", 1)[1].split()[0]
    assert user.check_password(password)

    again = "\n".join(_run("bootstrap"))
    assert "already set up" in again
    assert "hk_" not in again
    assert ApiKey.objects.count() == 1

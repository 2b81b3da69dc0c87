"""The new-task form: every TaskRunRequest field, the API's rules, errors by their fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from runs.models import Run, RunStatus
from sessions.models import BrowserSession
from tests.conftest import Tenant
from tests.dashboard.conftest import Person

FIELDS = ("prompt", "url", "title", "engine", "proxy_location", "data_extraction_schema",
          "error_code_mapping", "max_steps", "webhook_url", "totp_identifier", "totp_url",
          "browser_session_id", "publish_workflow")  # fmt: skip


def submit(person: Person, **data: Any) -> Any:
    form = {"engine": "skyvern-2.0", "proxy_location": "RESIDENTIAL", **data}
    return person.client.post("/runs/new/", form)


def error_of(response: Any, field: str) -> str:
    """The error list rendered for `field` (empty when it has none)."""
    page = response.content.decode()
    marker = f'id="id_{field}_error"'
    if marker not in page:
        return ""
    return page.split(marker, 1)[1].split("</ul>", 1)[0]


def test_form_has_every_field_with_a_label(member: Person) -> None:
    page = member.client.get("/runs/new/").content.decode()
    for name in FIELDS:
        assert f'name="{name}"' in page, name
        assert f'<label for="id_{name}"' in page, name


def test_a_valid_task_opens_its_page(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    response = submit(
        member,
        prompt="Find the price",
        url="example.com/pricing",
        title="Price check",
        engine="skyvern-1.0",
        proxy_location="NONE",
        data_extraction_schema='{"type": "object", "properties": {"price": {"type": "number"}}}',
        error_code_mapping='{"LOCKED": "account locked"}',
        max_steps="7",
        webhook_url="hooks.example.com/harrier",
        totp_identifier="alice@example.com",
        totp_url="https://otp.example.com/code",
        browser_session_id=session.public_id,
        publish_workflow="on",
    )
    run = Run.objects.get()
    assert response["Location"] == f"/runs/{run.public_id}/"
    assert run.status == RunStatus.QUEUED
    assert run.run_request == {
        "prompt": "Find the price",
        "url": "https://example.com/pricing",
        "title": "Price check",
        "engine": "skyvern-1.0",
        "proxy_location": "NONE",
        "data_extraction_schema": {"type": "object", "properties": {"price": {"type": "number"}}},
        "error_code_mapping": {"LOCKED": "account locked"},
        "max_steps": 7,
        "webhook_url": "https://hooks.example.com/harrier",
        "totp_identifier": "alice@example.com",
        "totp_url": "https://otp.example.com/code",
        "browser_session_id": session.public_id,
        "publish_workflow": True,
    }
    assert run.organization == tenant.organization


def test_defaults_are_the_apis(member: Person, tenant: Tenant) -> None:
    submit(member, prompt="Just this")
    run = Run.objects.get()
    assert run.engine == "skyvern-2.0"
    assert run.max_steps == 25
    assert run.url is None
    assert run.title is None
    assert run.data_extraction_schema is None


def test_missing_prompt(member: Person) -> None:
    response = submit(member, prompt="   ")
    assert response.status_code == 422
    assert "the prompt must say what the agent should do" in error_of(response, "prompt")
    assert b"The task was not started." in response.content
    assert Run.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "object",', "This is not valid JSON"),
        ('{"type": "obj"}', "This is not a valid JSON Schema"),
        ("42", "must be a JSON object"),
        ('{"price": NaN}', "This is not valid JSON"),
    ],
)
def test_bad_schema(member: Person, text: str, message: str) -> None:
    response = submit(member, prompt="p", data_extraction_schema=text)
    assert response.status_code == 422
    assert message in error_of(response, "data_extraction_schema")
    assert text.replace('"', "&quot;") in response.content.decode()  # what was typed stays
    assert Run.objects.count() == 0


def test_bad_error_code_mapping_opens_more_options(member: Person) -> None:
    response = submit(member, prompt="p", error_code_mapping='{"A": 1}')
    assert "JSON object of codes and descriptions" in error_of(response, "error_code_mapping")
    assert '<details class="more-options" open>' in response.content.decode()


@pytest.mark.parametrize("field", ["url", "webhook_url", "totp_url"])
def test_bad_url_is_reported_on_its_field(member: Person, field: str) -> None:
    response = submit(member, prompt="p", **{field: "ftp://example.com/file"})
    assert response.status_code == 422
    assert "Invalid URL: ftp://example.com/file" in error_of(response, field)
    others = {"url", "webhook_url", "totp_url"} - {field}
    assert all(not error_of(response, other) for other in others)


def test_internal_addresses_are_refused_as_by_the_api(member: Person) -> None:
    response = submit(member, prompt="p", url="http://127.0.0.1:8000/admin/")
    assert "internal addresses are not allowed" in error_of(response, "url")


def test_internal_addresses_allowed_when_the_operator_says_so(
    member: Person, allow_private_networks: None
) -> None:
    response = submit(member, prompt="p", url="http://127.0.0.1:8000/")
    assert response.status_code == 302


def test_unknown_session(member: Person, other_tenant: Tenant) -> None:
    foreign = BrowserSession.objects.create(organization=other_tenant.organization)
    for session_id in ("pbs_123", foreign.public_id):
        response = submit(member, prompt="p", browser_session_id=session_id)
        assert response.status_code == 422
        assert "Browser session not found" in error_of(response, "browser_session_id")
    assert Run.objects.count() == 0


def test_closed_session(member: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    session.close()
    response = submit(member, prompt="p", browser_session_id=session.public_id)
    assert "Browser session not found" in error_of(response, "browser_session_id")


@pytest.mark.parametrize("value", ["0", "-3", "501"])
def test_max_steps_out_of_range(member: Person, value: str) -> None:
    response = submit(member, prompt="p", max_steps=value)
    assert response.status_code == 422
    assert "max_steps must be between 1 and 500" in error_of(response, "max_steps")


def test_max_steps_not_a_number(member: Person) -> None:
    response = submit(member, prompt="p", max_steps="ten")
    assert "Enter a whole number." in error_of(response, "max_steps")


def test_every_problem_is_listed_at_once(member: Person) -> None:
    response = submit(
        member, prompt="", max_steps="0", url="ftp://x", data_extraction_schema="{nope"
    )
    assert "Invalid URL: ftp://x" in error_of(response, "url")
    assert "not valid JSON" in error_of(response, "data_extraction_schema")
    assert "the prompt must say what the agent should do" in error_of(response, "prompt")
    assert "max_steps must be between 1 and 500" in error_of(response, "max_steps")
    assert Run.objects.count() == 0


def test_session_choices_are_the_open_sessions_of_my_organization(
    member: Person, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = BrowserSession.objects.create(organization=tenant.organization)
    closed = BrowserSession.objects.create(organization=tenant.organization)
    closed.close()
    theirs = BrowserSession.objects.create(organization=other_tenant.organization)
    page = member.client.get("/runs/new/").content.decode()
    assert f'value="{mine.public_id}"' in page
    assert closed.public_id not in page
    assert theirs.public_id not in page
    preselected = member.client.get(f"/runs/new/?session={mine.public_id}").content.decode()
    assert f'value="{mine.public_id}" selected' in preselected


def test_new_task_needs_csrf(member: Person) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member.user)
    assert strict.post("/runs/new/", {"prompt": "p"}).status_code == 403
    assert Run.objects.count() == 0


def test_user_input_is_escaped_when_redisplayed(member: Person) -> None:
    response = submit(member, prompt="<script>alert(1)</script>", max_steps="0")
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

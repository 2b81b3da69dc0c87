"""Who gets in: anonymous people go to the sign-in page, outsiders get 404s, and people in
no organization get a page that tells them what to do."""

from __future__ import annotations

import pytest
from django.test import Client

from sessions.models import BrowserSession
from tests.conftest import Tenant
from tests.dashboard.conftest import Person, make_person, make_run, make_screenshot, make_step

PAGES = ["/", "/runs/", "/runs/new/", "/sessions/", "/settings/", "/accounts/password/"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_sign_in(anonymous: Client, db: None, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_for_a_member(member: Person, path: str) -> None:
    response = member.client.get(path)
    assert response.status_code == 200, response.content[:2000]
    assert b'<a class="skip-link" href="#main">' in response.content


def test_anonymous_run_page_and_post_go_to_sign_in(anonymous: Client, tenant: Tenant) -> None:
    run = make_run(tenant.organization)
    for response in (
        anonymous.get(f"/runs/{run.public_id}/"),
        anonymous.post(f"/runs/{run.public_id}/cancel/"),
        anonymous.get("/sessions/pbs_1/screenshot"),
        anonymous.post("/settings/api-keys/", {"name": "x"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_other_organizations_run_is_404_everywhere(
    outsider: Person, tenant: Tenant, media: object
) -> None:
    run = make_run(tenant.organization)
    step = make_step(run, 1)
    shot = make_screenshot(run, step)
    base = f"/runs/{run.public_id}"
    paths = [f"{base}/", f"{base}/row/", f"{base}/output.json"]
    paths += [f"{base}/artifacts/{shot.public_id}/", f"/runs/new/?from={run.public_id}"]
    for path in paths:
        assert outsider.client.get(path).status_code == 404, path
        assert outsider.htmx(path).status_code == 404, path
    page = outsider.client.get(f"{base}/").content.decode()
    assert "belongs to another organization" in page  # the dashboard's 404 page
    assert outsider.client.post(f"{base}/cancel/").status_code == 404
    assert outsider.client.post(f"{base}/again/").status_code == 404
    run.refresh_from_db()
    assert not run.is_final


def test_artifact_of_another_run_is_404(member: Person, tenant: Tenant, media: object) -> None:
    mine, other = make_run(tenant.organization), make_run(tenant.organization)
    shot = make_screenshot(other, make_step(other, 1))
    path = f"/runs/{mine.public_id}/artifacts/{shot.public_id}/"
    assert member.client.get(path).status_code == 404


def test_other_organizations_session_is_404(outsider: Person, tenant: Tenant) -> None:
    session = BrowserSession.objects.create(organization=tenant.organization)
    sid = session.public_id
    assert outsider.client.get(f"/sessions/{sid}/close/").status_code == 404
    assert outsider.client.post(f"/sessions/{sid}/close/").status_code == 404
    assert outsider.client.get(f"/sessions/{sid}/screenshot").status_code == 404
    session.refresh_from_db()
    assert not session.is_closed


def test_outsider_lists_show_nothing_of_the_other_organization(
    outsider: Person, tenant: Tenant
) -> None:
    run = make_run(tenant.organization, prompt="Acme secret plans")
    session = BrowserSession.objects.create(organization=tenant.organization)
    for path in ("/", "/runs/", "/sessions/", "/runs/new/", "/settings/"):
        page = outsider.client.get(path).content.decode()
        assert run.public_id not in page
        assert "Acme secret plans" not in page
        assert session.public_id not in page
        assert tenant.api_key.lookup not in page


def test_user_in_no_organization_is_told_what_to_do(db: None) -> None:
    loner = make_person("lonely", None)
    response = loner.client.get("/")
    assert response.status_code == 403
    assert b"not a member of any organization" in response.content


def test_malformed_ids_are_404(member: Person) -> None:
    for path in ("/runs/%00/", "/runs/NOPE!/", "/sessions/%00/close/", "/runs/tsk_1/row/"):
        assert member.client.get(path).status_code == 404, path

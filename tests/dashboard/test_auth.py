"""Signing in and out, changing one's password, and switching organizations."""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from dashboard.access import SESSION_KEY
from dashboard.models import Membership
from tests.conftest import Tenant, make_tenant
from tests.dashboard.conftest import PASSWORD, Person, make_person, make_run


def test_login_page_renders_with_labels(anonymous: Client, db: None) -> None:
    page = anonymous.get("/accounts/login/").content.decode()
    assert '<label for="id_username">' in page
    assert '<label for="id_password">' in page
    assert "csrfmiddlewaretoken" in page


def test_sign_in_lands_on_the_overview(anonymous: Client, member: Person) -> None:
    response = anonymous.post(
        "/accounts/login/", {"username": "mia", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1] == ("/", 302)
    assert b"Overview" in response.content


def test_sign_in_follows_next(anonymous: Client, member: Person) -> None:
    response = anonymous.post(
        "/accounts/login/?next=/runs/", {"username": "mia", "password": PASSWORD, "next": "/runs/"}
    )
    assert response["Location"] == "/runs/"


def test_wrong_password_is_refused_with_a_message(anonymous: Client, member: Person) -> None:
    response = anonymous.post("/accounts/login/", {"username": "mia", "password": "nope"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b"correct username and password" in response.content


def test_bootstrap_admin_lands_on_the_dashboard(anonymous: Client, db: None) -> None:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    password = out.getvalue().split("password ", 1)[1].split()[0]
    response = anonymous.post(
        "/accounts/login/", {"username": "admin", "password": password}, follow=True
    )
    assert response.redirect_chain[-1] == ("/", 302)
    page = response.content.decode()
    assert "Overview" in page
    assert "Default" in page  # the bootstrap organization
    assert "Get started" in page  # first-run hints: no runs yet
    assert 'href="/admin/"' in page  # a superuser also gets the admin panel link


def test_sign_out_is_a_post(member: Person) -> None:
    assert member.client.get("/accounts/logout/").status_code == 405
    response = member.client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert member.client.get("/")["Location"].startswith("/accounts/login/")


def test_password_change(member: Person) -> None:
    page = member.client.get("/accounts/password/")
    assert b'<label for="id_old_password">' in page.content
    new = "a-new-long-pass-77"
    response = member.client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response["Location"] == "/accounts/password/done/"
    member.user.refresh_from_db()
    assert member.user.check_password(new)


def test_password_change_errors_are_next_to_fields(member: Person) -> None:
    response = member.client.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    )
    page = response.content.decode()
    assert 'id="id_old_password_error"' in page
    assert 'aria-invalid="true"' in page


def test_switcher_lists_only_my_organizations(member: Person, other_tenant: Tenant) -> None:
    # One organization: no switcher, just its name.
    page = member.client.get("/").content.decode()
    assert 'id="org-switch"' not in page
    Membership.objects.create(organization=other_tenant.organization, user=member.user)
    third = make_tenant("Initech")
    page = member.client.get("/").content.decode()
    assert 'id="org-switch"' in page
    assert "Globex" in page
    assert third.organization.name not in page


def test_switching_scopes_every_page(member: Person, tenant: Tenant, other_tenant: Tenant) -> None:
    Membership.objects.create(organization=other_tenant.organization, user=member.user)
    acme_run = make_run(tenant.organization, prompt="Acme's run")
    globex_run = make_run(other_tenant.organization, prompt="Globex's run")
    runs_page = member.client.get("/runs/").content.decode()
    assert "Acme" in runs_page
    assert "Acme&#x27;s run" in runs_page
    assert "Globex&#x27;s run" not in runs_page

    response = member.client.post(
        "/organization/switch/",
        {"organization": other_tenant.organization.public_id, "next": "/runs/"},
    )
    assert response["Location"] == "/runs/"
    assert member.client.session[SESSION_KEY] == other_tenant.organization.public_id
    runs_page = member.client.get("/runs/").content.decode()
    assert "Globex&#x27;s run" in runs_page
    assert "Acme&#x27;s run" not in runs_page
    assert member.client.get(f"/runs/{acme_run.public_id}/").status_code == 404
    assert member.client.get(f"/runs/{globex_run.public_id}/").status_code == 200


def test_switching_from_a_run_page_goes_to_the_overview(
    member: Person, other_tenant: Tenant
) -> None:
    Membership.objects.create(organization=other_tenant.organization, user=member.user)
    response = member.client.post(
        "/organization/switch/",
        {"organization": other_tenant.organization.public_id, "next": "/runs/tsk_1/"},
    )
    assert response["Location"] == "/"


def test_cannot_switch_to_an_organization_one_is_not_in(
    member: Person, other_tenant: Tenant
) -> None:
    response = member.client.post(
        "/organization/switch/", {"organization": other_tenant.organization.public_id}
    )
    assert response.status_code == 404
    assert member.client.session.get(SESSION_KEY) != other_tenant.organization.public_id


def test_removed_from_current_organization_falls_back_to_another(
    member: Person, tenant: Tenant, other_tenant: Tenant
) -> None:
    Membership.objects.create(organization=other_tenant.organization, user=member.user)
    member.client.get("/")
    assert member.client.session[SESSION_KEY] == tenant.organization.public_id
    Membership.objects.filter(organization=tenant.organization, user=member.user).delete()
    page = member.client.get("/").content.decode()
    assert "Globex" in page
    assert member.client.session[SESSION_KEY] == other_tenant.organization.public_id


def test_switch_needs_csrf(member: Person, other_tenant: Tenant) -> None:
    Membership.objects.create(organization=other_tenant.organization, user=member.user)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member.user)
    response = strict.post(
        "/organization/switch/", {"organization": other_tenant.organization.public_id}
    )
    assert response.status_code == 403


def test_staff_without_membership_gets_a_pointer_to_the_admin(db: None) -> None:
    root = get_user_model().objects.create_superuser("root", "r@example.com", PASSWORD)
    client = Client()
    client.force_login(root)
    response = client.get("/runs/")
    assert response.status_code == 403
    assert b"/admin/" in response.content


def test_person_without_any_membership(db: None) -> None:
    loner = make_person("solo", None)
    assert loner.client.get("/settings/").status_code == 403

"""Organization settings: API keys, the webhook signing secret and members, by role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from dashboard.models import ApiKey, Membership
from tests.conftest import Tenant
from tests.dashboard.conftest import Person, make_person

MANAGER_POSTS = [
    ("/settings/api-keys/", {"name": "sneaky"}),
    ("/settings/webhook-secret/rotate/", {}),
    ("/settings/members/", {"user": "someone", "role": "member", "create": "on"}),
]


# --- what members may and may not do ------------------------------------------------------


def test_member_sees_keys_and_members_but_no_controls(member: Person, tenant: Tenant) -> None:
    page = member.client.get("/settings/").content.decode()
    assert tenant.api_key.name in page
    assert tenant.api_key.lookup in page
    assert "mia" in page
    assert "Create key" not in page
    assert "Revoke" not in page
    assert "Add a member" not in page
    assert 'name="role"' not in page
    assert tenant.organization.webhook_signing_secret not in page
    assert "Only owners and admins can see the secret." in page


@pytest.mark.parametrize(("path", "data"), MANAGER_POSTS)
def test_member_posts_are_refused(member: Person, path: str, data: dict) -> None:
    assert member.client.post(path, data).status_code == 403


def test_member_cannot_revoke_reveal_or_change_roles(
    member: Person, admin: Person, tenant: Tenant
) -> None:
    key = tenant.api_key
    assert member.client.post(f"/settings/api-keys/{key.pk}/revoke/").status_code == 403
    assert member.client.get(f"/settings/api-keys/{key.pk}/revoke/").status_code == 403
    assert member.client.get("/settings/?reveal=webhook").status_code == 403
    target = admin.membership
    assert target is not None
    assert (
        member.client.post(f"/settings/members/{target.pk}/role/", {"role": "member"}).status_code
        == 403
    )
    assert member.client.post(f"/settings/members/{target.pk}/remove/").status_code == 403
    key.refresh_from_db()
    assert key.is_active
    assert Membership.objects.get(pk=target.pk).role == "admin"


# --- API keys --------------------------------------------------------------------------


def test_admin_creates_a_key_shown_once(admin: Person, tenant: Tenant) -> None:
    response = admin.client.post("/settings/api-keys/", {"name": "CI <pipeline>"})
    page = response.content.decode()
    created = ApiKey.objects.get(name="CI <pipeline>")
    key = page.split('id="new-api-key" class="mono" type="text" readonly value="', 1)[1].split('"')[
        0
    ]
    assert ApiKey.authenticate(key) == created
    assert 'data-copy="#new-api-key"' in page
    assert "CI &lt;pipeline&gt;" in page
    # Never again: not on the next page view, not stored in clear.
    assert key not in admin.client.get("/settings/").content.decode()
    assert key not in (created.lookup, created.key_hash)


def test_created_key_works_against_the_api(admin: Person) -> None:
    page = admin.client.post("/settings/api-keys/", {"name": "api"}).content.decode()
    key = page.split('id="new-api-key" class="mono" type="text" readonly value="', 1)[1].split('"')[
        0
    ]
    assert Client(headers={"x-api-key": key}).get("/v1/browser_sessions").status_code == 200


def test_key_form_over_htmx_returns_the_keys_section(admin: Person) -> None:
    response = admin.client.post("/settings/api-keys/", {"name": "x"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="api-keys"')
    assert "<html" not in body


def test_key_needs_a_name(admin: Person) -> None:
    response = admin.client.post("/settings/api-keys/", {"name": ""})
    assert response.status_code == 422
    assert b'id="id_name_error"' in response.content
    assert ApiKey.objects.filter(name="").count() == 0


def test_revoke_confirms_then_revokes(admin: Person, tenant: Tenant) -> None:
    key = tenant.api_key
    url = f"/settings/api-keys/{key.pk}/revoke/"
    confirm = admin.client.get(url).content.decode()
    assert f'action="{url}"' in confirm
    assert "Revoke key" in confirm
    key.refresh_from_db()
    assert key.is_active
    response = admin.client.post(url)
    assert response["Location"] == "/settings/#api-keys"
    assert tenant.get("/v1/browser_sessions").status_code == 401
    page = admin.client.get("/settings/").content.decode()
    assert "Revoked" in page


def test_last_used_is_shown(admin: Person, tenant: Tenant) -> None:
    assert "never" in admin.client.get("/settings/").content.decode()
    tenant.get("/v1/browser_sessions")
    assert "0\xa0minutes ago" in admin.client.get("/settings/").content.decode()


def test_other_organizations_key_is_404(admin: Person, other_tenant: Tenant) -> None:
    url = f"/settings/api-keys/{other_tenant.api_key.pk}/revoke/"
    assert admin.client.post(url).status_code == 404
    other_tenant.api_key.refresh_from_db()
    assert other_tenant.api_key.is_active


def test_key_creation_needs_csrf(admin: Person) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin.user)
    assert strict.post("/settings/api-keys/", {"name": "x"}).status_code == 403
    assert not ApiKey.objects.filter(name="x").exists()


# --- webhook secret ----------------------------------------------------------------------


def test_secret_is_hidden_until_revealed(admin: Person, tenant: Tenant) -> None:
    secret = tenant.organization.webhook_signing_secret
    assert secret not in admin.client.get("/settings/").content.decode()
    revealed = admin.client.get("/settings/?reveal=webhook").content.decode()
    assert secret in revealed
    partial = admin.htmx("/settings/?reveal=webhook").content.decode()
    assert partial.lstrip().startswith('<section id="webhook"')
    assert secret in partial
    hidden = admin.htmx("/settings/?section=webhook").content.decode()
    assert secret not in hidden
    assert hidden.lstrip().startswith('<section id="webhook"')


def test_rotate_confirms_then_rotates(admin: Person, tenant: Tenant) -> None:
    old = tenant.organization.webhook_signing_secret
    assert "Rotate secret" in admin.client.get("/settings/webhook-secret/rotate/").content.decode()
    tenant.organization.refresh_from_db()
    assert tenant.organization.webhook_signing_secret == old
    response = admin.client.post("/settings/webhook-secret/rotate/", HTTP_HX_REQUEST="true")
    tenant.organization.refresh_from_db()
    new = tenant.organization.webhook_signing_secret
    assert new != old
    assert new in response.content.decode()


# --- members -----------------------------------------------------------------------------


def test_admin_adds_an_existing_user_by_email(admin: Person, tenant: Tenant) -> None:
    bob = get_user_model().objects.create_user("bob", "Bob@Example.com", "x")
    response = admin.client.post(
        "/settings/members/", {"user": "bob@example.com", "role": "member"}
    )
    assert response.status_code == 200
    assert Membership.objects.get(organization=tenant.organization, user=bob).role == "member"
    assert "bob</strong> was added as member" in response.content.decode()


def test_admin_creates_an_account_with_a_password_shown_once(admin: Person, tenant: Tenant) -> None:
    response = admin.client.post(
        "/settings/members/", {"user": "carol@example.com", "role": "admin", "create": "on"}
    )
    page = response.content.decode()
    carol = get_user_model().objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert Membership.objects.get(organization=tenant.organization, user=carol).role == "admin"
    password = page.split('id="new-password" class="mono" type="text" readonly value="', 1)[
        1
    ].split('"')[0]
    assert carol.check_password(password)
    assert Client().login(username="carol", password=password)


def test_unknown_user_without_create_is_an_error(admin: Person) -> None:
    response = admin.client.post("/settings/members/", {"user": "nobody", "role": "member"})
    assert response.status_code == 422
    assert b"No account has this username or email" in response.content
    assert not get_user_model().objects.filter(username="nobody").exists()


def test_existing_member_cannot_be_added_twice(admin: Person, member: Person) -> None:
    response = admin.client.post("/settings/members/", {"user": "mia", "role": "admin"})
    assert b"mia is already a member." in response.content


def test_admin_cannot_make_owners(admin: Person, member: Person) -> None:
    response = admin.client.post(
        "/settings/members/", {"user": "zed", "role": "owner", "create": "on"}
    )
    assert b"Select a valid choice" in response.content
    assert member.membership is not None
    url = f"/settings/members/{member.membership.pk}/role/"
    admin.client.post(url, {"role": "owner"})
    assert Membership.objects.get(pk=member.membership.pk).role == "member"


def test_admin_cannot_touch_an_owner(admin: Person, owner: Person) -> None:
    assert owner.membership is not None
    pk = owner.membership.pk
    assert admin.client.post(f"/settings/members/{pk}/role/", {"role": "member"}).status_code == 403
    assert admin.client.post(f"/settings/members/{pk}/remove/").status_code == 403
    assert Membership.objects.get(pk=pk).role == "owner"


def test_admin_changes_roles_and_removes_members(admin: Person, member: Person) -> None:
    assert member.membership is not None
    pk = member.membership.pk
    response = admin.client.post(f"/settings/members/{pk}/role/", {"role": "admin"})
    assert response["Location"] == "/settings/#members"
    assert Membership.objects.get(pk=pk).role == "admin"
    assert "Remove mia" in admin.client.get(f"/settings/members/{pk}/remove/").content.decode()
    admin.client.post(f"/settings/members/{pk}/remove/")
    assert not Membership.objects.filter(pk=pk).exists()
    assert member.client.get("/").status_code == 403  # in no organization any more


def test_owner_makes_another_owner_then_steps_down(owner: Person, member: Person) -> None:
    assert owner.membership is not None
    assert member.membership is not None
    owner.client.post(f"/settings/members/{member.membership.pk}/role/", {"role": "owner"})
    owner.client.post(f"/settings/members/{owner.membership.pk}/role/", {"role": "admin"})
    assert Membership.objects.get(pk=member.membership.pk).role == "owner"
    assert Membership.objects.get(pk=owner.membership.pk).role == "admin"


def test_last_owner_cannot_be_demoted_or_removed(owner: Person, admin: Person) -> None:
    assert owner.membership is not None
    pk = owner.membership.pk
    response = owner.client.post(f"/settings/members/{pk}/role/", {"role": "member"}, follow=True)
    assert "olivia is the last owner of Acme" in response.content.decode()
    response = owner.client.post(f"/settings/members/{pk}/remove/", HTTP_HX_REQUEST="true")
    assert "olivia is the last owner of Acme" in response.content.decode()
    assert Membership.objects.get(pk=pk).role == "owner"
    assert "last owner" in owner.client.get("/settings/").content.decode()


def test_leaving_an_organization(owner: Person, admin: Person, tenant: Tenant) -> None:
    assert admin.membership is not None
    response = admin.client.post(
        f"/settings/members/{admin.membership.pk}/remove/", HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == "/"
    assert not Membership.objects.filter(pk=admin.membership.pk).exists()


def test_member_of_another_organization_is_404(owner: Person, other_tenant: Tenant) -> None:
    stranger = make_person("sam", other_tenant.organization)
    assert stranger.membership is not None
    url = f"/settings/members/{stranger.membership.pk}/remove/"
    assert owner.client.post(url).status_code == 404
    assert Membership.objects.filter(pk=stranger.membership.pk).exists()


def test_member_form_needs_csrf(owner: Person) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner.user)
    response = strict.post("/settings/members/", {"user": "x", "role": "member", "create": "on"})
    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="x").exists()


def test_usernames_are_escaped(owner: Person, tenant: Tenant) -> None:
    make_person("evil<b>", tenant.organization)
    page = owner.client.get("/settings/").content.decode()
    assert "evil<b>" not in page
    assert "evil&lt;b&gt;" in page

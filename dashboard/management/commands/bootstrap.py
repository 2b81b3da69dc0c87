"""First-run setup for `make run`: an organization, its admin account and an API key."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from dashboard.models import ApiKey, Membership, Organization


class Command(BaseCommand):
    help = (
        "On a fresh installation, create a first organization with an admin user and an API "
        "key and print their credentials once. Does nothing when an organization exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", default="Default", help="name of the first organization")
        parser.add_argument("--username", default="admin", help="the admin user's name")

    def handle(self, *args: Any, **options: Any) -> None:
        if Organization.objects.exists():
            self.stdout.write(
                "Harrier is already set up. New API key: python manage.py create_api_key --org NAME"
            )
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            organization = Organization.objects.create(name=options["org"])
            user_model = get_user_model()
            user = user_model.objects.filter(username=options["username"]).first()
            if user is None:
                user = user_model.objects.create_superuser(
                    username=options["username"], email="", password=password
                )
            else:
                user.set_password(password)
                user.save(update_fields=["password"])
            Membership.objects.create(
                organization=organization, user=user, role=Membership.Role.OWNER
            )
            _, key = ApiKey.issue(organization, "first key")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 64,
                    f" Harrier is set up. Organization: {organization.name}",
                    f" Admin sign-in:  user {user.get_username()}  password {password}",
                    " API key (shown once, store it now):",
                    f" {key}",
                    "=" * 64,
                    "",
                ]
            )
        )

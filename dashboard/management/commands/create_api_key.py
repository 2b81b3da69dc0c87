"""python manage.py create_api_key --org NAME [--name KEYNAME]"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from dashboard.models import ApiKey, Organization


class Command(BaseCommand):
    help = (
        "Create an API key for an organization (created if it does not exist). "
        "The key is printed alone on the last line; it is not stored and cannot be shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization name")
        parser.add_argument("--name", default="default", help="a name for the key")

    def handle(self, *args: Any, **options: Any) -> None:
        org_name = options["org"].strip()
        key_name = options["name"].strip() or "default"
        if not org_name:
            self.stderr.write("--org must not be empty")
            raise SystemExit(2)
        with transaction.atomic():
            organization, created = Organization.objects.get_or_create(name=org_name)
            _, key = ApiKey.issue(organization, key_name)
        verb = "Created organization" if created else "Organization"
        self.stdout.write(f"{verb} {organization.name} ({organization.public_id})")
        self.stdout.write(f"API key {key_name!r} (shown once, store it now):")
        self.stdout.write(key)

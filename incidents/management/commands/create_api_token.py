from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (shown only now; send it as 'Authorization: Bearer <token>')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'terraform'")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; an API token for them would not work.")
        _, token = api_token_create(user=user, name=name or "created with manage.py")
        self.stdout.write(token)

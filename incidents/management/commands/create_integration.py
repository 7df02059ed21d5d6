import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.choices import IntegrationKind
from incidents.ingest.links import ingest_url
from incidents.models import Service
from incidents.services import DomainError, integration_create


class Command(BaseCommand):
    help = "Create an integration (alert source) on a service and print its key and URL as JSON. The key is shown only now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--service", required=True, help="service slug")
        parser.add_argument("--kind", required=True, choices=IntegrationKind.values)
        parser.add_argument("--name", default="", help="defaults to the kind's name")
        parser.add_argument(
            "--heartbeat-interval",
            type=int,
            default=None,
            metavar="MINUTES",
            help="heartbeat kind only (and required for it): open an incident when no ping arrives for this long",
        )

    def handle(
        self, *args: Any, service: str, kind: str, name: str, heartbeat_interval: int | None, **options: Any
    ) -> None:
        try:
            target = Service.objects.get(slug=service)
        except Service.DoesNotExist:
            known = ", ".join(Service.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No service with slug {service!r} (known: {known}).") from None
        try:
            integration, key = integration_create(
                service=target,
                kind=kind,
                name=name,
                heartbeat_interval_minutes=heartbeat_interval,
                actor=None,
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            json.dumps(
                {
                    "id": integration.pk,
                    "service": target.slug,
                    "kind": integration.kind,
                    "name": integration.name,
                    "key": key,
                    "url": ingest_url(kind=kind, key=key),
                },
                indent=2,
            )
        )

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from incidents.demo import demo_curl, seed_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo team, users, services and integrations; print them as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--banner", action="store_true", help="print a human-readable welcome instead of JSON"
        )

    def handle(self, *args: Any, banner: bool, **options: Any) -> None:
        result = seed_demo()
        if not banner:
            self.stdout.write(json.dumps(result, indent=2))
            return
        logins = "\n".join(f"    {u['username']:<8} {u['password']}   ({u['role']})" for u in result["users"])
        self.stdout.write(
            f"""
  Muster is starting at {result["url"]}

  Demo logins:
{logins}

  Trigger a demo alert (PagerDuty Events API v2 format):
    {demo_curl(result)}

  A resolved incident with its published postmortem and open action items:
    {result["postmortem"]}

  All demo integration keys: python manage.py seed_demo
"""
        )

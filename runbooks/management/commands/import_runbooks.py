"""Import a folder of Markdown runbooks (what teams keep in git today) into one team."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.text import slugify

from incidents.models import Team
from incidents.services import DomainError
from runbooks.services import runbook_import_markdown


class _DryRun(Exception):
    """Raised inside a file's transaction to roll back what the import just wrote."""


class Command(BaseCommand):
    help = (
        "Import every *.md file in DIR as a runbook of --team. A file updates the runbook with the slug "
        "from its front matter (or its file name), adding a revision only when the text changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--team", required=True, help="slug of the team that owns the runbooks")
        parser.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")

    def handle(self, *args: Any, directory: Path, team: str, dry_run: bool, **options: Any) -> None:
        try:
            owner = Team.objects.get(slug=team)
        except Team.DoesNotExist:
            raise CommandError(f"No team {team!r}.") from None
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory.")
        files = sorted(path for path in directory.glob("*.md") if path.is_file())
        if not files:
            raise CommandError(f"No *.md files in {directory}.")

        outcomes: Counter[str] = Counter()
        for path in files:
            outcome, detail = self._import(path, owner, dry_run)
            outcomes[outcome] += 1
            line = f"{outcome:<9} {path.name}: {detail}"
            self.stdout.write(self.style.ERROR(line) if outcome == "error" else line)

        summary = ", ".join(f"{outcomes[o]} {o}" for o in ("created", "updated", "unchanged", "error"))
        self.stdout.write(
            f"{len(files)} files: {summary}{' (dry run: nothing was saved)' if dry_run else ''}"
        )
        if outcomes["error"]:
            sys.exit(1)

    def _import(self, path: Path, team: Team, dry_run: bool) -> tuple[str, str]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return "error", f"cannot read the file ({exc})"
        # One transaction per file: a bad file changes nothing, and the good ones still import.
        try:
            with transaction.atomic():
                runbook, outcome = runbook_import_markdown(
                    team=team, text=text, actor=None, slug=slugify(path.stem) or None
                )
                revision = runbook.current_revision
                detail = f"{runbook.slug} (revision {revision.number if revision else '?'})"
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except DomainError as exc:
            return "error", str(exc)
        return outcome, detail

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from runbooks.models import Runbook

pytestmark = pytest.mark.django_db

LAG = """---
title: Postgres replication lag
services: [checkout]
labels: {alertname: PgReplicationLag}
---
# Lag

- [ ] Check the replica
"""


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("import_runbooks", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def folder(tmp_path, service):
    (tmp_path / "pg-lag.md").write_text(LAG)
    (tmp_path / "Disk_Full.md").write_text("# Disk full\n\nDelete old logs.\n")
    (tmp_path / "notes.txt").write_text("not a runbook")
    return tmp_path


def test_imports_every_markdown_file_and_reports_each(folder, team):
    code, out = run(str(folder), "--team", "payments")

    assert code == 0
    assert out.splitlines() == [
        "created   Disk_Full.md: disk_full (revision 1)",
        "created   pg-lag.md: pg-lag (revision 1)",
        "2 files: 2 created, 0 updated, 0 unchanged, 0 error",
    ]
    lag = Runbook.objects.get(slug="pg-lag")
    assert (lag.team, lag.title, lag.labels) == (
        team,
        "Postgres replication lag",
        {"alertname": "PgReplicationLag"},
    )
    assert Runbook.objects.get(slug="disk_full").title == "Disk full"


def test_importing_again_adds_revisions_only_for_changed_text(folder):
    run(str(folder), "--team", "payments")
    (folder / "pg-lag.md").write_text(LAG + "- [ ] Page the DBA\n")

    code, out = run(str(folder), "--team", "payments")

    assert code == 0
    assert "unchanged Disk_Full.md: disk_full (revision 1)" in out
    assert "updated   pg-lag.md: pg-lag (revision 2)" in out
    assert Runbook.objects.get(slug="disk_full").revisions.count() == 1
    assert Runbook.objects.get(slug="pg-lag").revisions.count() == 2


def test_the_front_matter_slug_wins_over_the_file_name(tmp_path, team):
    (tmp_path / "whatever.md").write_text("---\ntitle: Lag\nslug: pg-lag\n---\nText\n")

    run(str(tmp_path), "--team", "payments")

    assert Runbook.objects.filter(slug="pg-lag").exists()


def test_a_bad_file_is_reported_the_others_import_and_the_exit_code_is_1(folder):
    (folder / "broken.md").write_text("---\ntitle: Broken\nservices: [nope]\n---\nText\n")

    code, out = run(str(folder), "--team", "payments")

    assert code == 1
    assert "error     broken.md: Unknown service: nope." in out
    assert out.splitlines()[-1] == "3 files: 2 created, 0 updated, 0 unchanged, 1 error"
    assert not Runbook.objects.filter(title="Broken").exists()
    assert Runbook.objects.count() == 2


def test_dry_run_reports_but_saves_nothing(folder):
    code, out = run(str(folder), "--team", "payments", "--dry-run")

    assert code == 0
    assert "created   pg-lag.md: pg-lag (revision 1)" in out
    assert out.splitlines()[-1].endswith("(dry run: nothing was saved)")
    assert not Runbook.objects.exists()


def test_unknown_team_or_missing_folder_is_a_command_error(folder, tmp_path):
    with pytest.raises(CommandError, match="No team 'nope'"):
        call_command("import_runbooks", str(folder), "--team", "nope")
    with pytest.raises(CommandError, match="not a directory"):
        call_command("import_runbooks", str(tmp_path / "missing"), "--team", "payments")

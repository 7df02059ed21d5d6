"""Two people save the same runbook at the same moment, both editing the latest revision. Only
PostgreSQL runs them truly in parallel; SQLite serialises every writer."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from runbooks.models import Runbook
from runbooks.services import StaleRevision, revision_create
from tests.factories import RunbookFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 6


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so nothing would run concurrently")


def test_concurrent_saves_on_the_same_base_let_exactly_one_win(team, responder):
    runbook = RunbookFactory(team=team, body="original")
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = [""] * THREADS

    def save(index: int) -> None:
        try:
            mine = Runbook.objects.get(pk=runbook.pk)
            barrier.wait(timeout=30)
            revision_create(runbook=mine, body=f"edit {index}", actor=responder, base_number=1)
            outcomes[index] = "saved"
        except StaleRevision as exc:
            outcomes[index] = f"stale:{exc.latest.number}"
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=save, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["saved"] + ["stale:2"] * (THREADS - 1)
    runbook.refresh_from_db()
    winner = outcomes.index("saved")
    assert list(runbook.revisions.order_by("number").values_list("body", flat=True)) == [
        "original",
        f"edit {winner}",
    ]
    assert runbook.current_revision.body == f"edit {winner}"

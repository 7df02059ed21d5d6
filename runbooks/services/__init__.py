"""Every change to a runbook goes through one of these functions (web UI, API, import command).

Each runs in one transaction, writes an audit entry, and raises a DomainError subclass for
requests that make no sense (a stale edit, an unknown service, a file it cannot read).
"""

from runbooks.services.errors import NothingChanged, StaleRevision
from runbooks.services.reviews import review_request_close, review_request_create
from runbooks.services.runbooks import (
    parse_labels,
    revision_create,
    revision_restore,
    runbook_create,
    runbook_delete,
    runbook_mark_reviewed,
    runbook_update,
)
from runbooks.services.transfer import (
    FrontMatterError,
    parse_runbook_markdown,
    runbook_export_markdown,
    runbook_import_markdown,
)
from runbooks.services.usage import (
    checklist_tick,
    checklist_untick,
    runbook_attach,
    runbook_use_feedback,
)

__all__ = [
    "FrontMatterError",
    "NothingChanged",
    "StaleRevision",
    "checklist_tick",
    "checklist_untick",
    "parse_labels",
    "parse_runbook_markdown",
    "review_request_close",
    "review_request_create",
    "revision_create",
    "revision_restore",
    "runbook_attach",
    "runbook_create",
    "runbook_delete",
    "runbook_export_markdown",
    "runbook_import_markdown",
    "runbook_mark_reviewed",
    "runbook_update",
    "runbook_use_feedback",
]

"""Every change to a postmortem or an action item goes through one of these functions (web UI,
REST API, demo data). Each runs in one transaction, raises DomainError for requests that make no
sense (a published postmortem is read-only except its action items), and writes the incident
timeline and the audit log where the change is worth recording.
"""

from postmortems.blameless import BlamelessWarning, blameless_warnings
from postmortems.services.action_items import (
    action_item_create,
    action_item_set_status,
    action_item_update,
)
from postmortems.services.common import READ_ONLY_MESSAGE, UNSET, PostmortemReadOnly
from postmortems.services.export import format_duration, postmortem_export_markdown
from postmortems.services.postmortems import (
    SECTION_MAX_LENGTH,
    SectionUpdate,
    add_business_days,
    postmortem_create,
    postmortem_due_date,
    postmortem_publish,
    postmortem_update,
    section_update,
)
from postmortems.services.reviews import (
    comment_add,
    comment_resolve,
    review_approve,
    review_request,
)
from postmortems.services.timeline import (
    NOISY_KINDS,
    NOT_IMPORTED_KINDS,
    timeline_entry_add,
    timeline_entry_delete,
    timeline_entry_update,
    timeline_import,
)

__all__ = [
    "NOISY_KINDS",
    "NOT_IMPORTED_KINDS",
    "READ_ONLY_MESSAGE",
    "SECTION_MAX_LENGTH",
    "UNSET",
    "BlamelessWarning",
    "PostmortemReadOnly",
    "SectionUpdate",
    "action_item_create",
    "action_item_set_status",
    "action_item_update",
    "add_business_days",
    "blameless_warnings",
    "comment_add",
    "comment_resolve",
    "format_duration",
    "postmortem_create",
    "postmortem_due_date",
    "postmortem_export_markdown",
    "postmortem_publish",
    "postmortem_update",
    "review_approve",
    "review_request",
    "section_update",
    "timeline_entry_add",
    "timeline_entry_delete",
    "timeline_entry_update",
    "timeline_import",
]

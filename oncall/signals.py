"""The one signal receiver in on-call: every new person gets a profile and a default notification
rule (email at 0 minutes), however they were created (admin, createsuperuser, seed_demo, a data
migration, tests). A receiver is the only hook all of those share; it calls a service, which holds
the logic."""

from __future__ import annotations

from typing import Any

from oncall.services import person_defaults_create


def user_created(sender: type[Any], instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    # raw: loaddata restores rows exactly as dumped, defaults included if they existed.
    if created and not raw:
        person_defaults_create(user=instance)

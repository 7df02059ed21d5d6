from __future__ import annotations

import pytest

from oncall.channels import CHANNEL_KINDS, get_channel
from oncall.models import ContactKind


def test_every_contact_kind_has_a_channel_and_no_channel_lacks_a_contact_kind():
    assert set(CHANNEL_KINDS) == set(ContactKind.values)


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
def test_get_channel_returns_the_channel_of_that_kind(kind):
    channel = get_channel(kind)

    assert channel.kind == kind
    assert callable(channel.send)


def test_get_channel_names_the_known_kinds_for_an_unknown_one():
    with pytest.raises(ValueError, match=r"unknown notification channel 'pager'; known: email, sms"):
        get_channel("pager")

"""Outbound notification channels, one module each, behind the interface in `base`."""

from __future__ import annotations

from oncall.channels.base import Channel
from oncall.channels.email import EmailChannel
from oncall.channels.ntfy import NtfyChannel
from oncall.channels.slack import SlackChannel
from oncall.channels.sms import SmsChannel
from oncall.channels.webhook import WebhookChannel

# Channels keep no state (settings are read on every call), so one instance each is enough.
_CHANNELS: dict[str, Channel] = {
    channel.kind: channel
    for channel in (EmailChannel(), SmsChannel(), NtfyChannel(), SlackChannel(), WebhookChannel())
}
CHANNEL_KINDS: tuple[str, ...] = tuple(_CHANNELS)


def get_channel(kind: str) -> Channel:
    try:
        return _CHANNELS[kind]
    except KeyError:
        raise ValueError(
            f"unknown notification channel {kind!r}; known: {', '.join(CHANNEL_KINDS)}"
        ) from None


__all__ = ["CHANNEL_KINDS", "Channel", "get_channel"]

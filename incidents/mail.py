"""Email Muster sends on its own (pages, shift nudges, review reminders, digests): one way to build
it, so every one carries the same headers and none can hang a worker on a stuck mail server."""

from __future__ import annotations

from email.utils import make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string


def message_id_domain() -> str:
    # The sender's domain, not the container's random hostname, keeps spam scores down.
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or DNS_NAME.get_fqdn()


def automated_email(
    *,
    to: list[str],
    subject: str,
    template: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """Text and HTML parts from `<template>.txt` and `<template>.html`; the caller sends it and
    decides what a failure means. `email.extra_headers["Message-ID"]` identifies it."""
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={
            "Message-ID": make_msgid(domain=message_id_domain()),
            # RFC 3834: vacation responders must not answer (and page or remind the sender back).
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            **(headers or {}),
        },
        # Django's SMTP backend waits forever by default; a hung mail server must not hold a worker.
        connection=get_connection(
            fail_silently=False, timeout=settings.EMAIL_TIMEOUT or settings.MUSTER_CHANNEL_TIMEOUT_SECONDS
        ),
    )
    email.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return email

"""Signed, expiring one-tap acknowledge links.

The token names the incident and the person it was sent to; Django's signing makes it tamper-proof
and dates it. Opening the link (GET) only shows a confirmation page, because mail scanners fetch
links in emails; the POST acknowledges.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "muster.oncall.ack"


class AckLinkError(Exception):
    """The link cannot be used; the message says why, for the person holding the phone."""


@dataclass(frozen=True)
class AckGrant:
    incident_id: int
    user_id: int


def make_token(*, incident_id: int, user_id: int) -> str:
    return signing.dumps({"i": incident_id, "u": user_id}, salt=SALT, compress=True)


def read_token(token: str) -> AckGrant:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.MUSTER_ACK_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise AckLinkError(
            "This acknowledge link has expired. Open the incident in Muster to acknowledge it."
        ) from None
    except signing.BadSignature:
        raise AckLinkError(
            "This acknowledge link is not valid. It may have been cut off or changed."
        ) from None
    return AckGrant(incident_id=int(data["i"]), user_id=int(data["u"]))


def ack_url(token: str) -> str:
    return settings.MUSTER_BASE_URL + reverse("oncall:ack", kwargs={"token": token})


def ack_api_url(token: str) -> str:
    return settings.MUSTER_BASE_URL + reverse("oncall:ack_api", kwargs={"token": token})

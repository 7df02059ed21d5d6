"""The page a chat user opens to link their chat account to the Muster account they are signed in
with: the link comes signed from the bot (identity.link_url_for) and lasts 24 hours."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from incidents.chatops.identity import chat_identity_link, chat_user_from_link_token
from incidents.chatops.models import ChatPlatform

TEMPLATE = "incidents/chatops_link.html"


@login_required
@require_http_methods(["GET", "POST"])
def chat_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        chat_user = chat_user_from_link_token(token)
    except signing.BadSignature:
        return render(request, TEMPLATE, {"expired": True}, status=400)
    context = {
        "chat_user": chat_user,
        "platform": ChatPlatform(chat_user.platform).label,
        "linked": False,
    }
    if request.method == "POST":
        chat_identity_link(chat_user=chat_user, user=request.user)
        context["linked"] = True
    return render(request, TEMPLATE, context)

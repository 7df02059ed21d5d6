from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.chatops.commands import HELP, dispatch, handle_action, incident_message
from incidents.chatops.models import ChatIdentity, ChatWorkspace, IncidentChannel
from incidents.chatops.types import ChatContext, ChatUser, Reply
from incidents.choices import IncidentRoleKind, IncidentStatus, Role, Severity, TimelineKind
from incidents.models import Incident, IncidentRole, TimelineEvent
from tests.factories import (
    ContactMethodFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    IncidentFactory,
    LayerFactory,
    MembershipFactory,
    ScheduleFactory,
    ServiceFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

WORKSPACE = "T0XYZ"
INCIDENT_CHANNEL = "C0INC001"


def chat_user(user, *, user_id: str | None = None) -> ChatUser:
    """The user's Slack account, linked to them."""
    chat_id = user_id or f"U0{user.username.upper()}"
    ChatIdentity.objects.get_or_create(
        platform="slack",
        workspace_external_id=WORKSPACE,
        chat_user_id=chat_id,
        defaults={"user": user, "chat_user_name": user.username, "linked_via": "link"},
    )
    return ChatUser(platform="slack", workspace_id=WORKSPACE, user_id=chat_id, name=user.username)


def where(channel_id: str = "C0GENERAL", mentions: dict[str, str] | None = None) -> ChatContext:
    return ChatContext(
        platform="slack", workspace_id=WORKSPACE, channel_id=channel_id, mentions=mentions or {}
    )


def run(text: str, user: ChatUser, context: ChatContext | None = None) -> Reply:
    return dispatch(text=text, user=user, context=context or where())


def in_channel_of(incident: Incident) -> ChatContext:
    IncidentChannel.objects.get_or_create(
        incident=incident,
        platform="slack",
        workspace_external_id=WORKSPACE,
        channel_id=INCIDENT_CHANNEL,
    )
    return where(INCIDENT_CHANNEL)


def via(user: ChatUser) -> dict[str, str]:
    return {"platform": "slack", "chat_user_id": user.user_id, "chat_user_name": user.name}


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service, number=4, title="Checkout error rate above 5%")


@pytest.fixture
def rosa(responder):
    responder.first_name, responder.last_name = "Rosa", "Diaz"
    responder.save()
    return chat_user(responder)


UNLINKED = ChatUser(platform="slack", workspace_id=WORKSPACE, user_id="U0NOBODY", name="nobody")


# --- help and unknown commands --------------------------------------------------------------


def test_help_lists_every_command_with_an_example(rosa):
    reply = run("help", rosa)
    assert not reply.in_channel
    for command in (
        "declare",
        "ack",
        "resolve",
        "mitigated",
        "sev",
        "note",
        "status",
        "role",
        "oncall",
        "list",
    ):
        assert f"`{command}" in reply.text
    assert reply.text.count("e.g. `/incident ") == len(HELP)


def test_an_empty_command_shows_the_help_even_to_an_unknown_chat_user():
    assert run("", UNLINKED).text == run("help", UNLINKED).text
    assert "Muster commands" in run("  ", UNLINKED).text


def test_an_unknown_command_says_so_and_points_to_help(rosa):
    reply = run("frobnicate now", rosa)
    assert reply == Reply(text="Unknown command “frobnicate”. Try /incident help.")


# --- unknown chat users ---------------------------------------------------------------------


def test_an_unknown_chat_user_is_told_how_to_link_and_nothing_is_declared(service):
    reply = run("declare Checkout is down", UNLINKED)
    assert not reply.in_channel
    assert "Open this link while signed in to Muster to link your account" in reply.text
    assert not Incident.objects.exists()


def test_an_unknown_chat_user_cannot_act_on_an_incident_in_its_channel(incident):
    context = in_channel_of(incident)
    for text in ("ack", "resolve", "mitigated", "sev 1", "note hi", "status hi", "list", "oncall"):
        reply = run(text, UNLINKED, context)
        assert "link your account" in reply.text
    incident.refresh_from_db()
    assert (incident.status, incident.severity, incident.mitigated_at) == (
        IncidentStatus.TRIGGERED,
        Severity.SEV2,
        None,
    )
    assert not TimelineEvent.objects.exists()


def test_an_unknown_chat_user_clicking_a_button_changes_nothing(incident):
    reply = handle_action(action_id="incident_ack", value="INC-4", user=UNLINKED, context=where())
    assert not reply.in_channel
    assert "link your account" in reply.text
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_a_chat_user_with_a_slack_contact_method_is_recognised(service, responder):
    ContactMethodFactory(user=responder, kind="slack", address="U0ROSA")
    user = ChatUser(platform="slack", workspace_id=WORKSPACE, user_id="U0ROSA", name="rosa")
    reply = run("declare Checkout is down", user)
    assert reply.in_channel
    assert Incident.objects.get().declared_by == responder


# --- declare --------------------------------------------------------------------------------


def test_declare_takes_the_title_with_apostrophes_and_defaults_to_sev3_on_the_only_service(
    service, rosa, responder
):
    reply = run("declare Bob's checkout isn't loading", rosa)
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.service) == (
        "Bob's checkout isn't loading",
        Severity.SEV3,
        service,
    )
    assert incident.declared_by == responder
    assert reply.in_channel
    assert reply.text.startswith(f"*{incident.reference}: Bob's checkout isn't loading*")
    assert "Declared by Rosa Diaz" in reply.text
    assert [b.action_id for b in reply.buttons] == ["incident_ack", "incident_resolve", "incident_open"]
    assert incident.timeline.get(kind=TimelineKind.DECLARED).data["via"] == via(rosa)


@pytest.mark.parametrize("tail", ["sev2 checkout", "checkout sev2", "SEV2 CHECKOUT"])
def test_declare_takes_severity_and_service_off_the_end_in_either_order(service, rosa, team, tail):
    ServiceFactory(slug="billing", name="Billing", team=team)
    run(f"declare Payments failing {tail}", rosa)
    incident = Incident.objects.get()
    assert (incident.title, incident.severity, incident.service) == (
        "Payments failing",
        Severity.SEV2,
        service,
    )


def test_declare_keeps_a_quoted_title_without_its_quotes(service, rosa):
    run('declare "Checkout down sev1" sev2', rosa)
    incident = Incident.objects.get()
    assert (incident.title, incident.severity) == ("Checkout down sev1", Severity.SEV2)


def test_declare_uses_the_workspace_default_service(service, rosa, team):
    billing = ServiceFactory(slug="billing", name="Billing", team=team)
    ChatWorkspace.objects.create(platform="slack", external_id=WORKSPACE, default_service=billing)
    run("declare Invoices are late", rosa)
    assert Incident.objects.get().service == billing


def test_declare_with_several_services_and_no_default_asks_which(service, rosa, team):
    ServiceFactory(slug="billing", name="Billing", team=team)
    reply = run("declare Invoices are late", rosa)
    assert not reply.in_channel
    assert "Which service?" in reply.text
    assert "billing, checkout" in reply.text
    assert not Incident.objects.exists()


def test_declare_without_a_title_explains_the_usage(service, rosa):
    reply = run("declare", rosa)
    assert "needs a title" in reply.text
    assert "/incident declare" in reply.text
    assert not Incident.objects.exists()


def test_a_viewer_cannot_declare(service, viewer):
    reply = run("declare Checkout is down", chat_user(viewer))
    assert reply.text == "Declaring an incident needs the responder role in a team that owns a service."
    assert not Incident.objects.exists()


def test_declaring_on_a_service_seen_only_as_viewer_is_refused_not_folded_into_the_title(service, rosa):
    finance = TeamFactory(name="Finance", slug="finance")
    ServiceFactory(slug="ledger", name="Ledger", team=finance)
    MembershipFactory(team=finance, user=rosa_user(rosa), role=Role.VIEWER)
    reply = run("declare Ledger is off ledger", rosa)
    assert reply.text == "Declaring on Ledger needs the responder role in Finance."
    assert not Incident.objects.exists()


def rosa_user(user: ChatUser):
    return ChatIdentity.objects.get(chat_user_id=user.user_id).user


# --- ack, resolve, mitigated ----------------------------------------------------------------


@pytest.mark.parametrize("reference", ["INC-4", "inc-4", "#4", "4"])
def test_ack_with_an_incident_number_acknowledges_it_for_everyone_to_see(incident, rosa, reference):
    reply = run(f"ack {reference}", rosa)
    assert reply.in_channel
    assert reply.text == "Rosa Diaz acknowledged INC-4: Checkout error rate above 5%"
    assert reply.link_url.endswith("/incidents/4/")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED).data["via"] == via(rosa)


def test_ack_in_the_incident_channel_needs_no_number(incident, rosa):
    reply = run("ack", rosa, in_channel_of(incident))
    assert reply.in_channel
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED


def test_ack_outside_an_incident_channel_without_a_number_asks_for_it(incident, rosa):
    reply = run("ack", rosa)
    assert not reply.in_channel
    assert "Which incident?" in reply.text
    assert "/incident ack INC-42" in reply.text


def test_a_channel_in_another_workspace_is_not_the_incident_channel(incident, rosa):
    IncidentChannel.objects.create(
        incident=incident, platform="slack", workspace_external_id="T0OTHER", channel_id=INCIDENT_CHANNEL
    )
    assert "Which incident?" in run("ack", rosa, where(INCIDENT_CHANNEL)).text


def test_a_viewer_is_refused_with_the_role_and_team(incident, viewer):
    reply = run("ack INC-4", chat_user(viewer))
    assert reply == Reply(text="Acknowledging needs the responder role in Payments.")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_an_outsider_cannot_see_the_incident_at_all(incident, outsider):
    reply = run("ack INC-4", chat_user(outsider))
    assert reply == Reply(text="No incident INC-4 that you can see.")
    assert run("resolve INC-4", chat_user(outsider)).text == "No incident INC-4 that you can see."


def test_an_outsider_in_the_incident_channel_cannot_see_it_either(incident, outsider):
    reply = run("note hello", chat_user(outsider), in_channel_of(incident))
    assert reply.text == "No incident INC-4 that you can see."
    assert not TimelineEvent.objects.exists()


def test_a_missing_incident_is_the_same_answer(rosa, service):
    assert run("ack INC-999", rosa).text == "No incident INC-999 that you can see."


def test_ack_twice_answers_privately_the_second_time(incident, rosa):
    run("ack INC-4", rosa)
    reply = run("ack INC-4", rosa)
    assert reply == Reply(text="INC-4 is already acknowledged.")
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1


def test_ack_of_a_resolved_incident_explains_why_not(service, rosa):
    IncidentFactory(service=service, number=5, status=IncidentStatus.RESOLVED)
    reply = run("ack INC-5", rosa)
    assert reply == Reply(text="INC-5 is resolved; it cannot be acknowledged.")


def test_ack_with_extra_words_explains_the_usage(incident, rosa):
    reply = run("ack INC-4 please", rosa)
    assert "I didn't understand “please”" in reply.text
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_resolve_with_a_note(incident, rosa):
    reply = run("resolve INC-4 Rolled back to v1.41", rosa)
    assert reply.in_channel
    assert reply.text == "Rosa Diaz resolved INC-4: Checkout error rate above 5%\nRolled back to v1.41"
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    event = incident.timeline.get(kind=TimelineKind.RESOLVED)
    assert event.text == "Resolved by Rosa Diaz: Rolled back to v1.41"
    assert event.data["via"] == via(rosa)


def test_resolve_in_the_channel_takes_the_words_as_the_note(incident, rosa):
    run("resolve it's fixed", rosa, in_channel_of(incident))
    assert incident.timeline.get(kind=TimelineKind.RESOLVED).text == "Resolved by Rosa Diaz: it's fixed"


def test_resolve_twice_answers_privately(incident, rosa):
    run("resolve INC-4", rosa)
    assert run("resolve INC-4", rosa) == Reply(text="INC-4 is already resolved.")


def test_mitigated_in_the_channel(incident, rosa):
    context = in_channel_of(incident)
    reply = run("mitigated", rosa, context)
    assert reply.in_channel
    assert reply.text == "Rosa Diaz marked INC-4 mitigated: impact has stopped"
    incident.refresh_from_db()
    assert incident.mitigated_at is not None
    assert incident.timeline.get(kind=TimelineKind.MITIGATED).data["via"] == via(rosa)
    assert run("mitigated", rosa, context) == Reply(text="INC-4 is already marked mitigated.")


def test_mitigated_on_a_resolved_incident_explains_why_not(service, rosa):
    IncidentFactory(service=service, number=5, status=IncidentStatus.RESOLVED)
    assert run("mitigated INC-5", rosa) == Reply(text="INC-5 is already resolved.")
    assert not TimelineEvent.objects.exists()


def test_a_viewer_cannot_mark_mitigated(incident, viewer):
    reply = run("mitigated INC-4", chat_user(viewer))
    assert reply.text == "Marking an incident mitigated needs the responder role in Payments."


# --- severity, notes, status updates --------------------------------------------------------


@pytest.mark.parametrize("argument", ["1", "sev1", "SEV1"])
def test_sev_changes_the_severity(incident, rosa, argument):
    reply = run(f"sev {argument}", rosa, in_channel_of(incident))
    assert reply.in_channel
    assert reply.text == "Rosa Diaz changed INC-4 from SEV2 to SEV1"
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV1
    assert incident.timeline.get(kind=TimelineKind.SEVERITY_CHANGED).data["via"] == via(rosa)


def test_sev_with_an_incident_number_in_either_place(incident, rosa):
    run("sev INC-4 1", rosa)
    run("sev 3 #4", rosa)
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV3


@pytest.mark.parametrize("text", ["sev", "sev 5", "sev high", "sev 1 2"])
def test_sev_with_a_bad_argument_explains(incident, rosa, text):
    reply = run(text, rosa, in_channel_of(incident))
    assert not reply.in_channel
    assert "severity from 1 (worst) to 4" in reply.text
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV2


def test_sev_unchanged_answers_privately(incident, rosa):
    assert run("sev 2 INC-4", rosa) == Reply(text="INC-4 is already SEV2.")
    assert not TimelineEvent.objects.exists()


def test_note_keeps_the_text_as_typed(incident, rosa):
    reply = run('note  Bob\'s deploy "v1.42" looks   bad', rosa, in_channel_of(incident))
    assert reply.in_channel
    event = incident.timeline.get(kind=TimelineKind.NOTE)
    assert event.text == 'Bob\'s deploy "v1.42" looks   bad'
    assert event.data["via"] == via(rosa)


def test_note_with_an_incident_number_first(incident, rosa):
    run("note INC-4 Looking at the dashboards", rosa)
    assert incident.timeline.get(kind=TimelineKind.NOTE).text == "Looking at the dashboards"


def test_an_empty_note_explains(incident, rosa):
    reply = run("note", rosa, in_channel_of(incident))
    assert "What should the note say?" in reply.text
    assert not TimelineEvent.objects.exists()


def test_a_viewer_cannot_add_a_note(incident, viewer):
    reply = run("note hello", chat_user(viewer), in_channel_of(incident))
    assert reply.text == "Adding a note needs the responder role in Payments."
    assert not TimelineEvent.objects.exists()


def test_status_posts_a_stakeholder_update(incident, rosa):
    reply = run("status Fix deployed, error rate falling", rosa, in_channel_of(incident))
    assert reply.in_channel
    assert reply.text == "*Status update on INC-4* from Rosa Diaz: Fix deployed, error rate falling"
    event = incident.timeline.get(kind=TimelineKind.STATUS_UPDATE)
    assert event.text == "Status update: Fix deployed, error rate falling"
    assert event.data["via"] == via(rosa)


def test_an_empty_status_update_explains(incident, rosa):
    assert "What should the update say?" in run("status", rosa, in_channel_of(incident)).text


# --- roles ----------------------------------------------------------------------------------


def test_role_assigns_the_mentioned_person(incident, rosa, sam):
    sam_chat = chat_user(sam, user_id="U0SAM")
    context = in_channel_of(incident)
    context = replace(context, mentions={"<@U0SAM>": sam_chat.user_id})
    reply = run("role commander <@U0SAM>", rosa, context)
    assert reply.in_channel
    assert reply.text == "Rosa Diaz made Sam Okafor incident commander of INC-4"
    role = IncidentRole.objects.get(incident=incident)
    assert (role.role, role.user) == (IncidentRoleKind.COMMANDER, sam)
    assert incident.timeline.get(kind=TimelineKind.ROLE_ASSIGNED).data["via"] == via(rosa)
    again = run("role commander <@U0SAM>", rosa, context)
    assert again == Reply(text="Sam Okafor is already incident commander of INC-4.")


@pytest.mark.parametrize(
    ("word", "role"), [("comms", "communications"), ("scribe", "scribe"), ("IC", "commander")]
)
def test_role_understands_a_raw_slack_mention_and_role_words(incident, rosa, sam, word, role):
    chat_user(sam, user_id="U0SAM")
    run(f"role {word} <@U0SAM|sam> INC-4", rosa)
    assert IncidentRole.objects.get(incident=incident).role == role


def test_role_with_a_mattermost_style_mention(incident, sam, responder):
    mm_rosa = ChatUser(platform="mattermost", workspace_id="team1", user_id="mm-rosa", name="rosa")
    ChatIdentity.objects.create(
        user=responder, platform="mattermost", workspace_external_id="team1", chat_user_id="mm-rosa"
    )
    ChatIdentity.objects.create(
        user=sam, platform="mattermost", workspace_external_id="team1", chat_user_id="mm-sam"
    )
    context = ChatContext(platform="mattermost", workspace_id="team1", mentions={"@sam": "mm-sam"})
    reply = dispatch(text="role scribe @sam INC-4", user=mm_rosa, context=context)
    assert reply.in_channel, reply.text
    assert IncidentRole.objects.get(incident=incident).user == sam


def test_role_for_someone_who_has_not_linked_their_account(incident, rosa):
    reply = run("role commander <@U0STRANGER>", rosa, in_channel_of(incident))
    assert reply.text == "<@U0STRANGER> has not linked their Muster account yet, so they can't hold a role."
    assert not IncidentRole.objects.exists()


def test_role_for_a_name_chat_did_not_resolve(incident, rosa):
    reply = run("role commander @nobody", rosa, in_channel_of(incident))
    assert "I can't tell who @nobody is" in reply.text


def test_role_for_a_viewer_is_refused(incident, rosa, viewer):
    chat_user(viewer, user_id="U0VERA")
    reply = run("role scribe <@U0VERA>", rosa, in_channel_of(incident))
    assert "can't hold a role on INC-4" in reply.text
    assert not IncidentRole.objects.exists()


@pytest.mark.parametrize("text", ["role", "role boss <@U0SAM>", "role commander"])
def test_role_with_bad_arguments_explains(incident, rosa, text):
    reply = run(text, rosa, in_channel_of(incident))
    assert "Name a role (commander, comms or scribe) and a person" in reply.text


def test_a_viewer_cannot_assign_roles(incident, viewer, sam):
    chat_user(sam, user_id="U0SAM")
    reply = run("role commander <@U0SAM> INC-4", chat_user(viewer))
    assert reply.text == "Assigning roles needs the responder role in Payments."


# --- oncall and list ------------------------------------------------------------------------


@pytest.fixture
def sam_on_call(service, team, sam):
    schedule = ScheduleFactory(team=team, name="Primary")
    LayerFactory(schedule=schedule, participants=[sam], start_date=timezone.now().date() - timedelta(days=3))
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, schedules=[schedule])
    service.escalation_policy = policy
    service.save()
    return schedule


def test_oncall_for_a_service(sam_on_call, rosa):
    reply = run("oncall checkout", rosa)
    assert not reply.in_channel
    assert reply.text == "On call now:\n*Checkout*: Sam Okafor"


def test_oncall_without_a_service_lists_every_visible_service(sam_on_call, rosa, team):
    ServiceFactory(slug="billing", name="Billing", team=team)
    ServiceFactory(slug="ledger", name="Ledger", team=TeamFactory(slug="finance"))
    reply = run("oncall", rosa)
    assert reply.text == "On call now:\n*Billing*: no escalation policy\n*Checkout*: Sam Okafor"


def test_oncall_without_a_service_uses_the_workspace_default(sam_on_call, rosa, team, service):
    ServiceFactory(slug="billing", name="Billing", team=team)
    ChatWorkspace.objects.create(platform="slack", external_id=WORKSPACE, default_service=service)
    assert run("oncall", rosa).text == "On call now:\n*Checkout*: Sam Okafor"


def test_oncall_for_a_service_the_user_cannot_see(sam_on_call, outsider):
    assert run("oncall checkout", chat_user(outsider)).text == "No service “checkout” that you can see."
    assert run("oncall", chat_user(outsider)).text == "You can't see any services yet."


def test_oncall_when_nobody_is_on_call(service, team, rosa):
    policy = EscalationPolicyFactory(team=team)
    EscalationStepFactory(policy=policy, schedules=[ScheduleFactory(team=team)])
    service.escalation_policy = policy
    service.save()
    assert run("oncall checkout", rosa).text == "On call now:\n*Checkout*: nobody on call in its schedules"


def test_list_shows_open_visible_incidents_newest_first(service, rosa, django_assert_num_queries):
    for number in range(1, 13):
        IncidentFactory(service=service, number=number, title=f"Problem {number}")
    IncidentFactory(service=service, number=13, status=IncidentStatus.RESOLVED)
    IncidentFactory(service=ServiceFactory(slug="hidden"), number=14)
    # The chat identity with its user, then the incidents (the user's teams are a subquery).
    with django_assert_num_queries(2):
        reply = run("list", rosa)
    lines = reply.text.splitlines()
    assert not reply.in_channel
    assert lines[0] == "Open incidents:"
    assert lines[1] == "INC-12 · SEV2 · Triggered · Checkout · Problem 12"
    assert [line.split(" ·")[0] for line in lines[1:11]] == [f"INC-{n}" for n in range(12, 2, -1)]
    assert lines[11].startswith("… and more")


def test_list_for_someone_with_no_incidents(incident, outsider):
    assert run("list", chat_user(outsider)).text == "No open incidents that you can see."


def test_list_takes_no_arguments(rosa, service):
    assert "Usage: `/incident list`" in run("list everything", rosa).text


# --- query counts ---------------------------------------------------------------------------


def test_ack_in_a_channel_takes_a_fixed_number_of_queries(incident, rosa, django_assert_max_num_queries):
    # The chat identity, the channel, the incident, the roles; then the service's own writes.
    context = in_channel_of(incident)
    with django_assert_max_num_queries(11):
        run("ack", rosa, context)


# --- buttons --------------------------------------------------------------------------------


def buttons(reply: Reply) -> list[str]:
    return [button.action_id for button in reply.buttons]


def test_the_incident_message_offers_only_the_buttons_that_make_sense(incident):
    reply = incident_message(incident=incident)
    assert reply.in_channel
    assert reply.text == "*INC-4: Checkout error rate above 5%*\nSEV2 · Triggered · Checkout"
    assert buttons(reply) == ["incident_ack", "incident_resolve", "incident_open"]
    assert all(button.value == "INC-4" for button in reply.buttons)
    assert reply.buttons[-1].url.endswith("/incidents/4/")
    incident.status = IncidentStatus.ACKNOWLEDGED
    incident.mitigated_at = timezone.now()
    acknowledged = incident_message(incident=incident)
    assert buttons(acknowledged) == ["incident_resolve", "incident_open"]
    assert acknowledged.text.endswith("SEV2 · Acknowledged · Checkout · mitigated")
    incident.status = IncidentStatus.RESOLVED
    assert buttons(incident_message(incident=incident)) == ["incident_open"]


def test_clicking_acknowledge_updates_the_message(incident, rosa):
    reply = handle_action(action_id="incident_ack", value="INC-4", user=rosa, context=where())
    assert reply.in_channel
    assert buttons(reply) == ["incident_resolve", "incident_open"]
    assert "Acknowledged" in reply.text
    assert reply.text.endswith("Acknowledged by Rosa Diaz")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED).data["via"] == via(rosa)


def test_clicking_resolve_leaves_only_open(incident, rosa):
    reply = handle_action(action_id="incident_resolve", value="INC-4", user=rosa, context=where())
    assert buttons(reply) == ["incident_open"]
    assert reply.text.endswith("Resolved by Rosa Diaz")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_clicking_acknowledge_after_someone_else_did_just_updates_the_message(incident, rosa, sam):
    handle_action(action_id="incident_ack", value="INC-4", user=chat_user(sam), context=where())
    reply = handle_action(action_id="incident_ack", value="INC-4", user=rosa, context=where())
    assert reply.in_channel
    assert buttons(reply) == ["incident_resolve", "incident_open"]
    assert "Rosa" not in reply.text
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).count() == 1


def test_clicking_acknowledge_on_a_resolved_incident_shows_it_resolved(service, rosa):
    IncidentFactory(service=service, number=5, status=IncidentStatus.RESOLVED)
    reply = handle_action(action_id="incident_ack", value="INC-5", user=rosa, context=where())
    assert reply.in_channel
    assert buttons(reply) == ["incident_open"]
    assert reply.text.endswith("INC-5 is resolved; it cannot be acknowledged.")


def test_a_viewer_clicking_a_button_is_refused_privately(incident, viewer):
    reply = handle_action(
        action_id="incident_resolve", value="INC-4", user=chat_user(viewer), context=where()
    )
    assert reply == Reply(text="Resolving needs the responder role in Payments.")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_an_outsider_clicking_a_button_sees_nothing(incident, outsider):
    reply = handle_action(action_id="incident_ack", value="INC-4", user=chat_user(outsider), context=where())
    assert reply == Reply(text="No incident INC-4 that you can see.")


@pytest.mark.parametrize(("action_id", "value"), [("incident_delete", "INC-4"), ("incident_ack", "four")])
def test_a_button_that_makes_no_sense_is_answered_privately(incident, rosa, action_id, value):
    reply = handle_action(action_id=action_id, value=value, user=rosa, context=where())
    assert not reply.in_channel
    assert not reply.buttons
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED

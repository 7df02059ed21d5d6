"""Chat workspaces (their secrets), the people linked to chat accounts, incident channels, and the
Slack event ids already handled. Imported by incidents/models.py, so they belong to the incidents
app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ChatPlatform(models.TextChoices):
    SLACK = "slack", "Slack"
    MATTERMOST = "mattermost", "Mattermost"
    TEAMS = "teams", "Microsoft Teams"


class ChatWorkspace(models.Model):
    """One Slack workspace, Mattermost team or Teams team that talks to Muster, with its secrets.

    Secrets are write-only in the UI: they are shown once, never again. A single-workspace install
    may instead set SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, MATTERMOST_COMMAND_TOKEN and
    TEAMS_OUTGOING_SECRET in the environment; those apply to requests no row matches.
    """

    platform = models.CharField(max_length=20, choices=ChatPlatform.choices)
    # Slack team_id, Mattermost team_id, Teams team id (channelData.team.id).
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=100, blank=True)
    signing_secret = models.CharField(
        max_length=200, blank=True, help_text="Slack: the app's signing secret."
    )
    bot_token = models.CharField(max_length=200, blank=True, help_text="Slack: the bot token (xoxb-…).")
    command_token = models.CharField(
        max_length=200, blank=True, help_text="Mattermost: the slash command token."
    )
    outgoing_secret = models.CharField(
        max_length=200, blank=True, help_text="Teams: the outgoing webhook's security token (base64)."
    )
    default_service = models.ForeignKey(
        "incidents.Service", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["platform", "name"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_id"], name="chat_workspace_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.name or self.external_id}"


class ChatIdentity(models.Model):
    """A chat account known to be a Muster user: found through a Slack contact method or the email
    address, or linked by the person through a signed link."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_identities"
    )
    platform = models.CharField(max_length=20, choices=ChatPlatform.choices)
    workspace_external_id = models.CharField(max_length=100)
    chat_user_id = models.CharField(max_length=100)
    chat_user_name = models.CharField(max_length=150, blank=True)
    linked_via = models.CharField(max_length=20, help_text="contact_method, email or link")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "chat identities"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "workspace_external_id", "chat_user_id"], name="chat_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chat_user_name or self.chat_user_id} ({self.platform}) = {self.user}"


class IncidentChannel(models.Model):
    """A chat channel that belongs to one incident: commands typed there apply to it."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="chat_channels")
    platform = models.CharField(max_length=20, choices=ChatPlatform.choices)
    workspace_external_id = models.CharField(max_length=100)
    channel_id = models.CharField(max_length=100)
    channel_name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "workspace_external_id", "channel_id"], name="incident_channel_unique"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.channel_name or self.channel_id} for incident {self.incident_id}"


class ChatEventReceipt(models.Model):
    """A Slack Events API event already handled: Slack retries, and a retry must do nothing."""

    event_id = models.CharField(max_length=100, unique=True)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.event_id


class AnnouncementKind(models.TextChoices):
    SLACK_WEBHOOK = "slack_webhook", "Slack incoming webhook"
    SLACK_CHANNEL = "slack_channel", "Slack channel, posted by the bot"
    MATTERMOST_WEBHOOK = "mattermost_webhook", "Mattermost incoming webhook"


class AnnouncementChannel(models.Model):
    """Where a team or one service announces its incidents: declared, severity changed, status
    updates, resolved. Exactly one of team and service is set; an incident is announced in the
    channels of its service and of the service's team.

    The webhook URL is a secret (whoever has it can post as the app): it is write-only in the UI,
    which shows only its host and last characters. A Slack channel is posted to with the bot token
    of `workspace`, or SLACK_BOT_TOKEN when no workspace is named.
    """

    team = models.ForeignKey(
        "incidents.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="announcement_channels",
    )
    service = models.ForeignKey(
        "incidents.Service",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="announcement_channels",
    )
    kind = models.CharField(max_length=20, choices=AnnouncementKind.choices)
    name = models.CharField(max_length=100, help_text="How people know the channel, e.g. #incidents.")
    webhook_url = models.CharField(max_length=500, blank=True)
    workspace = models.ForeignKey(
        ChatWorkspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="announcement_channels"
    )
    channel_id = models.CharField(max_length=100, blank=True, help_text="Slack channel ID, e.g. C0123ABCD.")
    # Severity values run SEV1=1 … SEV4=4: incidents with severity <= this are announced.
    least_severe = models.PositiveSmallIntegerField(
        default=4, help_text="Announce incidents of this severity and more severe."
    )
    create_incident_channels = models.BooleanField(
        default=False,
        help_text="Create a Slack channel for each new incident (the bot token needs channels:manage).",
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(team__isnull=False, service__isnull=True)
                    | models.Q(team__isnull=True, service__isnull=False)
                ),
                name="announcement_channel_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.name


class AnnouncementAction(models.TextChoices):
    POST = "post", "Post the update"
    CREATE_CHANNEL = "create_channel", "Create the incident's channel"


class Announcement(models.Model):
    """One message to one announcement channel about one timeline event, written in the same
    transaction as the event and claimed (queued → sending, with a deadline) before it is sent, like
    a page. The key makes a second write of the same announcement impossible."""

    key = models.CharField(max_length=200, unique=True)
    channel = models.ForeignKey(AnnouncementChannel, on_delete=models.CASCADE, related_name="announcements")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="announcements")
    event = models.ForeignKey(
        "incidents.TimelineEvent", on_delete=models.CASCADE, related_name="announcements"
    )
    action = models.CharField(
        max_length=20, choices=AnnouncementAction.choices, default=AnnouncementAction.POST
    )
    status = models.CharField(max_length=10, default="queued")  # oncall.models.NotificationStatus values
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["due_at"], name="announcement_due", condition=models.Q(status="queued")),
            models.Index(
                fields=["claimed_until"], name="announcement_claimed", condition=models.Q(status="sending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} in {self.channel} for incident {self.incident_id}"

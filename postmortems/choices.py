from django.db import models


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class SectionKey(models.TextChoices):
    """The blameless template, in the order the postmortem reads."""

    SUMMARY = "summary", "Summary"
    IMPACT = "impact", "Impact"
    TIMELINE = "timeline", "Timeline"
    ROOT_CAUSE = "root_cause", "Root cause"
    CONTRIBUTING_FACTORS = "contributing_factors", "Contributing factors"
    DETECTION = "detection", "Detection"
    RESPONSE = "response", "Response and recovery"
    WENT_WELL = "went_well", "What went well"
    WENT_POORLY = "went_poorly", "What went poorly"
    LUCKY = "lucky", "Where we got lucky"
    LESSONS = "lessons", "Lessons"


# What each section asks the writer; shown as the placeholder and in the exported Markdown's
# empty sections.
SECTION_PROMPTS: dict[str, str] = {
    SectionKey.SUMMARY: "What happened, in two or three sentences a newcomer would understand.",
    SectionKey.IMPACT: "Who and what was affected, how badly, and for how long.",
    SectionKey.TIMELINE: "Anything the event list below does not say (it is imported from the incident).",
    SectionKey.ROOT_CAUSE: "The conditions that made this possible: systems and processes, not people.",
    SectionKey.CONTRIBUTING_FACTORS: "What made it worse, or harder to see or fix.",
    SectionKey.DETECTION: "How we found out, and how fast. Would an alert have caught it sooner?",
    SectionKey.RESPONSE: "How we responded and recovered, and what slowed us down.",
    SectionKey.WENT_WELL: "What worked, so we keep doing it.",
    SectionKey.WENT_POORLY: "What did not work, so we change it.",
    SectionKey.LUCKY: "What could have made this much worse, but did not.",
    SectionKey.LESSONS: "What we learned, and what we will do differently.",
}


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


OPEN_ACTION_ITEM_STATUSES = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


class ActionItemPriority(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class ActionItemKind(models.TextChoices):
    PREVENT = "prevent", "Prevent"
    DETECT = "detect", "Detect"
    MITIGATE = "mitigate", "Mitigate"
    PROCESS = "process", "Process"


class ReminderKind(models.TextChoices):
    DIGEST = "digest", "Weekly action-item digest"
    SUMMARY = "summary", "Weekly team summary for managers"
    ITEM_DUE = "item_due", "Action item due"
    POSTMORTEM_OVERDUE = "postmortem_overdue", "Postmortem past due"

"""The blameless-language checker: phrases that put a person, not the system, at the centre of what
went wrong. A pure function over text, so the editor, the API and the tests all ask the same thing.

It points out wording, it does not forbid it: the writer sees a short, kind explanation next to each
phrase and decides. The patterns stay narrow on purpose ("the fault was in the load balancer" is
fine; "Rosa's fault" is not), because a checker that nags about everything gets ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BlamelessWarning:
    phrase: str  # the matched text, as written
    explanation: str
    start: int
    end: int


_PERSON_CAUSE = "Names a person as the cause. Describe what in the system made the mistake possible."
_HINDSIGHT = (
    "Hindsight: it was not obvious at the time. Describe what information was missing or hard to see."
)
_JUDGEMENT = "Judges a person rather than the work. Describe what made the step easy to get wrong."
_HUMAN_ERROR = (
    "Human error is where the questions start, not an answer. Ask what made the action easy to get wrong."
)
_PERSON_FAILED = "Frames this as a person's failure. Describe what the system made hard to do or to notice."
_FORGOT = "Puts the gap in someone's memory. Describe which reminder, check or automation was missing."
_BLAME = "Blame makes people stop telling us what really happened. Describe causes, not culprits."

# Who "failed to" something: pronouns and roles. Systems fail to do things all the time ("the health
# check failed to detect it"), and that is exactly what a postmortem should say.
_PERSON = (
    r"(?:he|she|they|i|we|you|someone|somebody|the\s+(?:engineer|operator|developer|on-?call(?:\s+engineer)?"
    r"|responder|reviewer|author|admin(?:istrator)?|sre|person|user|team|dev|ops))"
)
# "<name>'s fault", but not the ones that say the opposite ("nobody's fault", "no one's fault").
_NOT_A_CULPRIT = r"(?!(?:it|nobody|one|anyone|anybody|noone)['\u2019]s\b)"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\b{_NOT_A_CULPRIT}[^\W\d_][\w-]*['\u2019]s\s+fault\b", re.IGNORECASE), _PERSON_CAUSE),
    (re.compile(r"\b(?:his|her|their|my|your)\s+fault\b", re.IGNORECASE), _PERSON_CAUSE),
    (re.compile(r"\bfault\s+of\b", re.IGNORECASE), _PERSON_CAUSE),
    (re.compile(r"\bhuman[\s-]+errors?\b", re.IGNORECASE), _HUMAN_ERROR),
    (
        re.compile(
            r"\bshould(?:n['\u2019]t)?(?:\s+have|['\u2019]ve)\s+"
            r"(?:known|caught|noticed|checked|seen|realised|realized|tested|spotted)\b",
            re.IGNORECASE,
        ),
        _HINDSIGHT,
    ),
    (re.compile(r"\bcareless(?:ly|ness)?\b", re.IGNORECASE), _JUDGEMENT),
    (re.compile(r"\bnegligen\w*", re.IGNORECASE), _JUDGEMENT),
    (re.compile(r"\bstupid(?:ly|ity)?\b", re.IGNORECASE), _JUDGEMENT),
    (re.compile(r"\bincompeten(?:t|ce|cy|tly)\b", re.IGNORECASE), _JUDGEMENT),
    (re.compile(r"\bidiot(?:ic|s)?\b", re.IGNORECASE), _JUDGEMENT),
    (re.compile(rf"\b{_PERSON}\s+failed\s+to\b", re.IGNORECASE), _PERSON_FAILED),
    (re.compile(r"\bforg(?:ot|et|otten)\s+to\b", re.IGNORECASE), _FORGOT),
    (re.compile(r"\b(?:didn['\u2019]t|did\s+not|never)\s+bother(?:ed)?\b", re.IGNORECASE), _JUDGEMENT),
    # "blame", "blamed", "to blame", but not "blameless" (the name of what we are writing).
    (re.compile(r"\bblam(?:e|ed|es|ing|eworthy)\b", re.IGNORECASE), _BLAME),
]


def blameless_warnings(text: str) -> list[BlamelessWarning]:
    """Each blaming phrase in `text`, once per occurrence, in reading order. Where two patterns
    match overlapping text, the earlier (then longer) match is kept."""
    found: list[BlamelessWarning] = []
    for pattern, explanation in _PATTERNS:
        for match in pattern.finditer(text):
            found.append(BlamelessWarning(match.group(0), explanation, match.start(), match.end()))
    found.sort(key=lambda warning: (warning.start, -warning.end))
    kept: list[BlamelessWarning] = []
    for warning in found:
        if kept and warning.start < kept[-1].end:
            continue
        kept.append(warning)
    return kept

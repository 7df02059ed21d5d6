from __future__ import annotations

import pytest

from postmortems.blameless import BlamelessWarning, blameless_warnings


def _phrases(text: str) -> list[str]:
    return [warning.phrase for warning in blameless_warnings(text)]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("It was Rosa's fault.", "Rosa's fault"),
        ("It was Rosa\u2019s fault.", "Rosa\u2019s fault"),
        ("This was his fault", "his fault"),
        ("the fault of the on-call engineer", "fault of"),
        ("Root cause: human error.", "human error"),
        ("Root cause: Human-Error.", "Human-Error"),
        ("She should have known the flag was live.", "should have known"),
        ("They should've caught it in review.", "should've caught"),
        ("We should have noticed the disk filling.", "should have noticed"),
        ("Someone should have checked the config.", "should have checked"),
        ("A careless deploy.", "careless"),
        ("Carelessly merged.", "Carelessly"),
        ("This was negligent.", "negligent"),
        ("Gross negligence.", "negligence"),
        ("The engineer failed to run the migration.", "The engineer failed to"),
        ("He failed to page the database team.", "He failed to"),
        ("Nobody is to blame but Sam.", "blame"),
        ("Sam was blamed for it.", "blamed"),
        ("Sam forgot to renew the certificate.", "forgot to"),
        ("They didn't bother to test it.", "didn't bother"),
        ("They did not bother with staging.", "did not bother"),
        ("A stupid mistake.", "stupid"),
        ("An incompetent rollout.", "incompetent"),
    ],
)
def test_blaming_phrases_are_pointed_out_as_written(text, phrase):
    assert _phrases(text) == [phrase]


@pytest.mark.parametrize(
    "text",
    [
        "The fault was in the load balancer.",
        "A network fault took down one zone.",
        "It was nobody's fault: the alert was silent.",
        "The health check failed to detect the hung worker.",
        "The deploy failed to roll back automatically.",
        "We run blameless postmortems.",
        "The error budget was spent in an hour.",
        "We know now that the flag was live.",
        "The faulty disk was replaced.",
        "",
    ],
)
def test_system_language_is_left_alone(text):
    assert blameless_warnings(text) == []


def test_each_occurrence_is_reported_with_its_position_in_reading_order():
    text = "Human error. Then Sam forgot to check, and human error again."

    warnings = blameless_warnings(text)

    assert [(w.phrase, w.start, w.end) for w in warnings] == [
        ("Human error", 0, 11),
        ("forgot to", 22, 31),
        ("human error", 43, 54),
    ]
    assert all(text[w.start : w.end] == w.phrase for w in warnings)


def test_overlapping_patterns_give_one_warning():
    # "<name>'s fault" and "fault of" share the word "fault": one warning, for the earlier match.
    assert _phrases("It was Rosa's fault of course.") == ["Rosa's fault"]


def test_explanations_are_short_and_point_at_the_system():
    warning = blameless_warnings("It was Rosa's fault.")[0]

    assert isinstance(warning, BlamelessWarning)
    assert warning.explanation == (
        "Names a person as the cause. Describe what in the system made the mistake possible."
    )
    for text in ["human error", "should have known", "careless", "forgot to", "blame", "he failed to"]:
        explanation = blameless_warnings(text)[0].explanation
        assert 20 < len(explanation) < 140, explanation

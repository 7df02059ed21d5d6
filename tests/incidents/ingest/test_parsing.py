from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.choices import Severity, Urgency
from incidents.ingest import severity
from incidents.ingest.events import IngestError
from incidents.ingest.parsing import load_json_object, parse_timestamp


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-04T10:15:00.315Z",
        "2025-03-04T10:15:00.315z",
        "2025-03-04T10:15:00.315+00:00",
        "2025-03-04T10:15:00.315+0000",
        "2025-03-04T15:45:00.315+05:30",
        "2025-03-04T05:15:00.315000000-05:00",
        "2025-03-04 10:15:00.315",
    ],
)
def test_timestamp_dialects_parse_to_the_same_utc_instant(text):
    parsed = parse_timestamp(text)

    assert parsed.moment == datetime(2025, 3, 4, 10, 15, 0, 315000, tzinfo=UTC)
    assert parsed.canonical() == "2025-03-04T10:15:00.315000000Z"


def test_nanoseconds_survive_in_the_canonical_form():
    assert parse_timestamp("2025-03-04T10:15:00.123456789Z").canonical() == "2025-03-04T10:15:00.123456789Z"


def test_go_zero_time_is_recognised():
    parsed = parse_timestamp("0001-01-01T00:00:00Z")

    assert parsed.is_go_zero
    assert parsed.canonical() == "0001-01-01T00:00:00.000000000Z"


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2025-03-04",
        "2025-13-04T10:15:00Z",
        "2025-03-04T25:15:00Z",
        "0001-01-01T00:00:00+01:00",
        "",
    ],
)
def test_unparsable_timestamps_raise_value_error(text):
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the input
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("critical", (Severity.SEV1, Urgency.HIGH)),
        ("Page", (Severity.SEV1, Urgency.HIGH)),
        ("ERROR", (Severity.SEV2, Urgency.HIGH)),
        ("warning", (Severity.SEV3, Urgency.LOW)),
        ("info", (Severity.SEV4, Urgency.LOW)),
        ("P1", (Severity.SEV1, Urgency.HIGH)),
        ("p3", (Severity.SEV3, Urgency.HIGH)),
        ("P5", (Severity.SEV4, Urgency.LOW)),
        ("sev2", (Severity.SEV2, Urgency.HIGH)),
        ("catastrophic", severity.DEFAULT),
        (None, severity.DEFAULT),
    ],
)
def test_one_severity_table_serves_every_format(value, expected):
    assert severity.from_any(value) == expected


def test_default_severity_still_pages():
    assert severity.DEFAULT[1] == Urgency.HIGH


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"", "empty"),
        (b"{", "not valid JSON"),
        (b"\xff", "not UTF-8"),
        (b"[]", "must be a JSON object, not an array"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    ],
)
def test_load_json_object_names_what_is_wrong(body, named):
    with pytest.raises(IngestError) as refused:
        load_json_object(body)

    assert named in refused.value.message
    assert refused.value.status == 400

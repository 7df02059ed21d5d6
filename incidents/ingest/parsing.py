"""Reading senders' JSON: typed field access that names each problem, and their timestamp dialects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.ingest.events import IngestError

JsonObject = dict[str, Any]


def load_json(body: bytes) -> Any:
    if not body.strip():
        raise IngestError("The request body is empty; send a JSON object.")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise IngestError("The request body is not UTF-8 encoded JSON.") from None
    except json.JSONDecodeError as exc:
        raise IngestError(f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}.") from None
    except RecursionError:
        raise IngestError("The request body is nested too deeply.") from None


def load_json_object(body: bytes) -> JsonObject:
    data = load_json(body)
    if not isinstance(data, dict):
        raise IngestError(f"The request body must be a JSON object, not {json_type(data)}.")
    return data


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class Problems:
    """Collects every problem in a payload so the sender can fix them all in one go."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, error: str) -> None:
        self.errors.append(error)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, message: str, status: int = 400) -> None:
        if self.errors:
            raise IngestError(message, list(self.errors), status)

    def string(
        self,
        obj: JsonObject,
        key: str,
        *,
        path: str = "",
        required: bool = False,
        max_length: int | None = None,
    ) -> str | None:
        name = path + key
        value = obj.get(key)
        if value is None:
            if required:
                self.add(f"'{name}' is missing.")
            return None
        if not isinstance(value, str):
            self.add(f"'{name}' must be a string, not {json_type(value)}.")
            return None
        if required and not value.strip():
            self.add(f"'{name}' is empty.")
            return None
        if max_length is not None and len(value) > max_length:
            self.add(f"'{name}' is {len(value)} characters long; the limit is {max_length}.")
            return None
        return value

    def obj(self, obj: JsonObject, key: str, *, path: str = "", required: bool = False) -> JsonObject:
        name = path + key
        value = obj.get(key)
        if value is None:
            if required:
                self.add(f"'{name}' is missing.")
            return {}
        if not isinstance(value, dict):
            self.add(f"'{name}' must be an object, not {json_type(value)}.")
            return {}
        return value

    def array(self, obj: JsonObject, key: str, *, path: str = "") -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(f"'{path}{key}' must be an array, not {json_type(value)}.")
            return []
        return value

    def string_map(self, obj: JsonObject, key: str, *, path: str = "") -> dict[str, str]:
        """Labels and the like: an object whose values are all strings."""
        name = path + key
        value = self.obj(obj, key, path=path)
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            self.add(f"'{name}' values must be strings; '{name}.{bad[0]}' is {json_type(value[bad[0]])}.")
            return {}
        return value


# --- timestamps -----------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:[.,](?P<fraction>\d{1,12}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Timestamp:
    """A UTC instant. `nanos` keeps the nanoseconds Go senders emit, which a datetime cannot hold."""

    moment: datetime
    nanos: int

    @property
    def is_go_zero(self) -> bool:
        return self.moment.year == 1

    def canonical(self) -> str:
        """The same instant always gives the same text, however the sender wrote its offset."""
        m = self.moment
        return (
            f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
            f".{self.nanos:09d}Z"
        )


def parse_timestamp(value: str) -> Timestamp:
    """ISO 8601 / RFC 3339 with `Z`, `+00:00` or `+0000` (PagerDuty's examples) and up to nanosecond
    precision (Alertmanager). A missing offset means UTC. Raises ValueError for anything else."""
    match = _RFC3339.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp")
    fraction = (match["fraction"] or "").ljust(9, "0")[:9]
    nanos = int(fraction)
    zone = match["zone"] or "Z"
    offset = timedelta(0)
    if zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if zone[0] == "-":
            offset = -offset
    naive = datetime.fromisoformat(f"{match['date']}T{match['h']}:{match['m']}:{match['s']}")
    try:
        moment = (naive - offset).replace(microsecond=nanos // 1000, tzinfo=UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range") from None
    return Timestamp(moment=moment, nanos=nanos)


def optional_timestamp(problems: Problems, obj: JsonObject, key: str, *, path: str = "") -> Timestamp | None:
    raw = problems.string(obj, key, path=path)
    if not raw:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError:
        problems.add(f"'{path}{key}' is not a timestamp Muster can parse ({raw[:40]!r}); use ISO 8601.")
        return None

"""Typed readers for settings that come from the environment.

Each helper fails loudly with ImproperlyConfigured when a value is present but malformed, so a
typo in a deployment is found at start-up, not at 03:00 when the first page should go out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0/yes/no), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str) -> str:
    raw = os.environ.get(name, default)
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an absolute http(s) URL, got {raw!r}")
    return raw.rstrip("/")


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def env_weekday(name: str, default: str) -> int:
    """A day of the week by name (`monday`, or its first three letters); Monday is 0."""
    raw = os.environ.get(name, default)
    value = raw.strip().lower()
    for number, day in enumerate(_WEEKDAYS):
        if value in (day, day[:3]):
            return number
    raise ImproperlyConfigured(f"{name} must be a day of the week such as monday, got {raw!r}")


def env_clock(name: str, default: str) -> time:
    """A wall-clock time as HH:MM (24-hour)."""
    raw = os.environ.get(name, default)
    hours, colon, minutes = raw.strip().partition(":")
    valid = colon and hours.isdigit() and minutes.isdigit() and len(minutes) == 2
    if valid and int(hours) < 24 and int(minutes) < 60:
        return time(int(hours), int(minutes))
    raise ImproperlyConfigured(f"{name} must be a time as HH:MM, e.g. 09:00, got {raw!r}")


def env_severity_days(name: str, default: str) -> dict[int, int]:
    """Days per severity, e.g. `SEV1=5,SEV2=5` → {1: 5, 2: 5}; severities not named get none."""
    raw = os.environ.get(name, default)
    days: dict[int, int] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        severity, equals, count = (piece.strip() for piece in part.partition("="))
        level = severity.upper().removeprefix("SEV")
        if not equals or level not in {"1", "2", "3", "4"} or not count.isdigit() or int(count) < 1:
            raise ImproperlyConfigured(
                f"{name} must look like SEV1=5,SEV2=5 (severity=days, days at least 1), got {raw!r}"
            )
        days[int(level)] = int(count)
    return days


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    file_path: str = ""


def parse_email_url(name: str, raw: str) -> EmailConfig:
    """`smtp://host:port`, `smtp+tls://user:pass@host:port`, `smtps://…`, `console://`, `file:///dir`."""
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return EmailConfig(backend="django.core.mail.backends.console.EmailBackend")
    if scheme == "file":
        if not parts.path:
            raise ImproperlyConfigured(f"{name}: file:// needs a directory, e.g. file:///var/mail")
        return EmailConfig(backend="django.core.mail.backends.filebased.EmailBackend", file_path=parts.path)
    if scheme in {"smtp", "smtp+tls", "smtps"}:
        if not parts.hostname:
            raise ImproperlyConfigured(
                f"{name}: {scheme}:// needs a host, e.g. {scheme}://mail.example.org:25"
            )
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}: the port in {raw!r} is not a number") from None
        default_port = {"smtp": 25, "smtp+tls": 587, "smtps": 465}[scheme]
        return EmailConfig(
            backend="django.core.mail.backends.smtp.EmailBackend",
            host=parts.hostname,
            port=port or default_port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            use_tls=scheme == "smtp+tls",
            use_ssl=scheme == "smtps",
        )
    raise ImproperlyConfigured(
        f"{name} must start with smtp://, smtp+tls://, smtps://, console:// or file://, got {raw!r}"
    )


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path

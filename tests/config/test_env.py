from datetime import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_clock,
    env_float,
    env_int,
    env_list,
    env_severity_days,
    env_url,
    env_weekday,
    parse_email_url,
)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("FALSE", False)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


def test_env_bool_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be a boolean"):
        env_bool("X_FLAG", False)


def test_env_int_refuses_words_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("X_INT", "five")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("X_INT", 1, minimum=0)


def test_env_float_and_list_and_defaults(monkeypatch):
    monkeypatch.delenv("X_MISSING", raising=False)
    assert env_float("X_MISSING", 2.5) == 2.5
    monkeypatch.setenv("X_LIST", " a.example, b.example ,,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


def test_env_url_needs_an_absolute_http_url(monkeypatch):
    monkeypatch.setenv("X_URL", "muster.example.org")
    with pytest.raises(ImproperlyConfigured, match="absolute http"):
        env_url("X_URL", "http://localhost")
    monkeypatch.setenv("X_URL", "https://muster.example.org/")
    assert env_url("X_URL", "http://localhost") == "https://muster.example.org"


class TestEmailUrl:
    def test_smtp_with_tls_and_credentials(self):
        config = parse_email_url("EMAIL_URL", "smtp+tls://alerts%40example.org:s3cr%2Ft@mail.example.org:587")
        assert config.backend.endswith("smtp.EmailBackend")
        assert (config.host, config.port, config.use_tls, config.use_ssl) == (
            "mail.example.org",
            587,
            True,
            False,
        )
        assert (config.user, config.password) == ("alerts@example.org", "s3cr/t")

    def test_plain_smtp_defaults_to_port_25(self):
        config = parse_email_url("EMAIL_URL", "smtp://localhost")
        assert (config.port, config.use_tls) == (25, False)

    def test_console_and_file(self):
        assert parse_email_url("EMAIL_URL", "console://").backend.endswith("console.EmailBackend")
        config = parse_email_url("EMAIL_URL", "file:///var/spool/muster-mail")
        assert config.file_path == "/var/spool/muster-mail"

    @pytest.mark.parametrize("raw", ["sendgrid://key", "smtp://", "smtp://host:port", "file://"])
    def test_malformed_urls_fail_loudly(self, raw):
        with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
            parse_email_url("EMAIL_URL", raw)


def test_env_weekday_takes_names_and_abbreviations(monkeypatch):
    monkeypatch.setenv("DAY", "Tue")
    assert env_weekday("DAY", "monday") == 1
    monkeypatch.delenv("DAY")
    assert env_weekday("DAY", "monday") == 0
    monkeypatch.setenv("DAY", "mondays")
    with pytest.raises(ImproperlyConfigured, match="day of the week"):
        env_weekday("DAY", "monday")


@pytest.mark.parametrize("raw", ["9", "24:00", "09:60", "9:5", "nine"])
def test_env_clock_refuses_anything_but_hh_mm(monkeypatch, raw):
    monkeypatch.setenv("AT", raw)
    with pytest.raises(ImproperlyConfigured, match="HH:MM"):
        env_clock("AT", "09:00")


def test_env_clock_reads_hh_mm(monkeypatch):
    monkeypatch.setenv("AT", "07:30")
    assert env_clock("AT", "09:00") == time(7, 30)


def test_env_severity_days(monkeypatch):
    assert env_severity_days("DUE", "SEV1=5,SEV2=5") == {1: 5, 2: 5}
    monkeypatch.setenv("DUE", "sev1=3, SEV3=10")
    assert env_severity_days("DUE", "SEV1=5") == {1: 3, 3: 10}
    monkeypatch.setenv("DUE", "")
    assert env_severity_days("DUE", "SEV1=5") == {}
    for bad in ("SEV5=1", "SEV1=0", "SEV1", "P1=5"):
        monkeypatch.setenv("DUE", bad)
        with pytest.raises(ImproperlyConfigured, match="SEV1=5"):
            env_severity_days("DUE", "SEV1=5")

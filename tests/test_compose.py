"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is where a deployment's configuration is written down, so the test that matters
most here is that every variable it sets is one the settings actually read: a misspelt or
invented name would otherwise be silently ignored and the default used instead.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_SOURCES = [ROOT / "config" / "settings.py", ROOT / "config" / "settings_production.py"]
APP_SERVICES = ("web", "worker", "beat")
SMTP_CATCHER_IMAGES = ("mailpit", "mailhog", "smtp4dev")

_ENV_CALL = re.compile(r"\benv_(?:str|bool|int|float|list|url)\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")


def _settings_env_names() -> set[str]:
    names: set[str] = {"DJANGO_SETTINGS_MODULE"}
    for source in SETTINGS_SOURCES:
        names.update(_ENV_CALL.findall(source.read_text()))
    return names


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services mapping"
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        # The list form allows "NAME" alone (passed through from the host) as well as NAME=value.
        pairs = (item.partition("=") for item in env)
        return {name: value for name, _, value in pairs}
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return _dockerfile_cmd()
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def _dockerfile_instructions() -> list[tuple[str, str]]:
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    instructions = []
    for text in logical:
        keyword, _, rest = text.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _dockerfile_cmd() -> list[str]:
    cmds = [rest for keyword, rest in _dockerfile_instructions() if keyword == "CMD"]
    assert cmds, "the Dockerfile has no CMD"
    # Exec form only: the shell form would put /bin/sh between Docker and gunicorn's signals.
    cmd = json.loads(cmds[-1])
    assert isinstance(cmd, list)
    return [str(part) for part in cmd]


def _image_registry(image: str) -> str | None:
    """The registry host an image reference names, the way Docker reads it, or None."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def test_compose_file_parses_and_names_every_process() -> None:
    services = _services()
    for name in (*APP_SERVICES, "postgres", "redis"):
        assert name in services, f"docker-compose.yml has no {name!r} service"
    catchers = [
        name
        for name, service in services.items()
        if str(service.get("image", "")).split(":")[0].rsplit("/", 1)[-1] in SMTP_CATCHER_IMAGES
    ]
    assert catchers, "docker-compose.yml has no SMTP catcher (mailpit or similar)"
    email_host = urlsplit(_environment(services["worker"])["EMAIL_URL"]).hostname
    assert email_host in catchers, "the worker's EMAIL_URL does not point at the SMTP catcher"


def test_each_app_service_runs_its_process() -> None:
    services = _services()
    web = _command(services["web"])
    assert web[0] == "gunicorn"
    assert "config.wsgi:application" in web
    # The benchmark starts gunicorn with the Dockerfile's options; a web service that ran with
    # different ones would make its figures describe some other configuration.
    assert web == _dockerfile_cmd(), "web's command and the Dockerfile's CMD have drifted apart"

    worker = _command(services["worker"])
    assert worker[:3] == ["celery", "-A", "config"]
    assert "worker" in worker
    assert "-B" not in worker, "beat runs as its own service in compose, not embedded in the worker"

    beat = _command(services["beat"])
    assert beat[:3] == ["celery", "-A", "config"]
    assert "beat" in beat


def test_compose_sets_only_variables_the_settings_read() -> None:
    known = _settings_env_names()
    # Guards the scan itself: if the settings stopped using these helpers, everything would pass.
    assert {"DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL", "SECURE_SSL_REDIRECT"} <= known

    services = _services()
    app_services = {name for name, service in services.items() if "build" in service} | set(APP_SERVICES)
    for name in sorted(app_services):
        service = services[name]
        assert "env_file" not in service, (
            f"{name}: set variables under environment so that this test can check their names"
        )
        unknown = sorted(set(_environment(service)) - known)
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"


def test_app_services_are_configured_for_production() -> None:
    services = _services()
    for name in APP_SERVICES:
        env = _environment(services[name])
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings_production", name
        for required in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "EMAIL_URL", "MUSTER_BASE_URL"):
            assert env.get(required), f"{name} does not set {required}"
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert "CELERY_BROKER_URL" in env or "REDIS_URL" in env, f"{name} has no broker"
        # The secret comes from the operator's .env, never from this file.
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), f"{name} must not carry a SECRET_KEY value"


def test_backing_services_keep_data_and_report_health() -> None:
    services = _services()
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    assert "healthcheck" in postgres
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in postgres.get("volumes", []))
    assert str(services["redis"]["image"]).startswith("redis:7")


def test_no_registry_is_named() -> None:
    images = [str(s["image"]) for s in _services().values() if "image" in s]
    images += [rest.split()[0] for keyword, rest in _dockerfile_instructions() if keyword == "FROM"]
    assert images
    for image in images:
        assert _image_registry(image) is None, f"{image} names a registry"
    for path in (COMPOSE_FILE, DOCKERFILE, ROOT / ".dockerignore"):
        text = path.read_text()
        # Only loopback and compose-internal addresses belong here, and those are plain http.
        assert "https://" not in text, f"{path.name} names a remote address"
    for keyword, rest in _dockerfile_instructions():
        if keyword == "RUN" and "pip" in rest:
            for option in ("--index-url", "--extra-index-url", "--find-links", " -i ", " -f "):
                assert option not in rest, f"pip is pointed at a package index: {rest}"


def test_dockerfile_installs_pinned_hashes_and_runs_unprivileged() -> None:
    instructions = _dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms[-1].startswith("python:3.11-slim")
    installs = [rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest]
    assert installs, "the Dockerfile installs nothing with pip"
    for run in installs:
        assert "--require-hashes" in run, run
        assert "requirements/base.txt" in run, run
    assert any("collectstatic" in rest for keyword, rest in instructions if keyword == "RUN")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the Dockerfile never leaves root"
    assert users[-1] not in {"root", "0", "0:0"}
    assert _dockerfile_cmd()[0] == "gunicorn"


def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


def test_compose_cli_accepts_the_file() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed")
    env = dict(os.environ, SECRET_KEY="placeholder-for-config-validation-" + "x" * 40)
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

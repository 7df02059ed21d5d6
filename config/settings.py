"""Muster settings: the embedded default (SQLite, filesystem broker) unless the environment says otherwise.

Production: DJANGO_SETTINGS_MODULE=config.settings_production, with DATABASE_URL (PostgreSQL),
CELERY_BROKER_URL (Redis), SECRET_KEY, ALLOWED_HOSTS, EMAIL_URL and MUSTER_BASE_URL set.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    ensure_dir,
    env_bool,
    env_clock,
    env_float,
    env_int,
    env_list,
    env_severity_days,
    env_str,
    env_url,
    env_weekday,
    parse_email_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = ensure_dir(Path(env_str("MUSTER_VAR_DIR", str(BASE_DIR / "var"))))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-embedded-default-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
MUSTER_BASE_URL = env_url("MUSTER_BASE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "django_filters",
    "incidents",
    "oncall",
    "runbooks",
    "postmortems",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
_default_db_url = f"sqlite:///{VAR_DIR / 'muster.sqlite3'}"
try:
    _db = dj_database_url.parse(env_str("DATABASE_URL", _default_db_url), conn_max_age=0)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Muster understands: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so the web process and the worker queue
    # for it instead of failing with "database is locked" halfway through a transaction.
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    _db["CONN_HEALTH_CHECKS"] = True
else:
    raise ImproperlyConfigured("DATABASE_URL must be a sqlite:// or postgres:// URL")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits) --------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = ensure_dir(VAR_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Email ----------------------------------------------------------------------------------
_email = parse_email_url("EMAIL_URL", env_str("EMAIL_URL", f"file://{VAR_DIR / 'mail'}"))
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
if _email.file_path:
    EMAIL_FILE_PATH = str(ensure_dir(Path(_email.file_path)))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Muster <muster@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    ensure_dir(_broker_dir / "queue")
    ensure_dir(_broker_dir / "processed")
    ensure_dir(_broker_dir / "control")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast exchanges (worker remote control); kombu otherwise writes them to the cwd.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
MUSTER_TICK_SECONDS = env_float("MUSTER_TICK_SECONDS", 5.0, minimum=0.5)
# The tick is "stale" for /readyz once it has not run for this many seconds.
MUSTER_TICK_STALE_SECONDS = env_float("MUSTER_TICK_STALE_SECONDS", 60.0, minimum=1.0)
# How often beat looks for weekly digests and due-date nudges to send.
MUSTER_REMINDERS_CHECK_SECONDS = env_float("MUSTER_REMINDERS_CHECK_SECONDS", 300.0, minimum=1.0)
# Announcements are queued the moment they are written; the sweep only catches rows whose task was lost.
MUSTER_ANNOUNCEMENTS_SWEEP_SECONDS = env_float("MUSTER_ANNOUNCEMENTS_SWEEP_SECONDS", 30.0, minimum=1.0)

# --- Ingestion ------------------------------------------------------------------------------
# Alertmanager and Grafana payloads have no size cap of their own (INTEROP.md §0); PagerDuty caps
# at 512 KB. Ingestion views enforce this limit themselves and answer 413 beyond it.
MUSTER_INGEST_MAX_BODY_BYTES = env_int("MUSTER_INGEST_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)
# Events per integration per minute; an integration may set its own.
MUSTER_INGEST_RATE_LIMIT_PER_MINUTE = env_int("MUSTER_INGEST_RATE_LIMIT_PER_MINUTE", 600, minimum=0)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "incidents.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "incidents.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Muster API",
    "DESCRIPTION": "Incidents, services, integrations and alerts. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

CELERY_BEAT_SCHEDULE = {
    "engine-tick": {"task": "oncall.tasks.engine_tick", "schedule": MUSTER_TICK_SECONDS},
    # Shift reminders need minute precision, not the tick's seconds.
    "shift-nudges": {"task": "oncall.tasks.shift_nudges", "schedule": 60.0},
    # Weekly per team, idempotent per ISO week; hourly so a beat that was down catches up.
    "runbook-review-reminders": {"task": "runbooks.tasks.review_reminders", "schedule": 3600.0},
    # Weekly action-item digests (each person's own Monday 09:00) and due-date nudges; the check
    # runs often so that time zones with :30 and :45 offsets get theirs on time too.
    "postmortem-reminders": {
        "task": "postmortems.tasks.send_reminders",
        "schedule": MUSTER_REMINDERS_CHECK_SECONDS,
    },
    "chat-announcements": {
        "task": "incidents.chatops.tasks.announcements_sweep",
        "schedule": MUSTER_ANNOUNCEMENTS_SWEEP_SECONDS,
    },
}
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
    }
)
INSTALLED_APPS.append("drf_spectacular_sidecar")

# --- Postmortems ---------------------------------------------------------------------------
# The weekly action-item digest goes out at this day and time in each recipient's own time zone.
MUSTER_DIGEST_WEEKDAY = env_weekday("MUSTER_DIGEST_WEEKDAY", "monday")
MUSTER_DIGEST_TIME = env_clock("MUSTER_DIGEST_TIME", "09:00")
# Postmortems of these severities are due this many business days after the incident resolved;
# other severities have no due date unless someone sets one.
MUSTER_POSTMORTEM_DUE_BUSINESS_DAYS = env_severity_days(
    "MUSTER_POSTMORTEM_DUE_BUSINESS_DAYS", "SEV1=5,SEV2=5"
)

# --- Paging channels ------------------------------------------------------------------------
# A channel whose settings are empty is shown as unavailable, never as broken.
NTFY_URL = env_str("NTFY_URL", "")  # e.g. https://ntfy.example.org (self-hosted) or the public server
NTFY_TOKEN = env_str("NTFY_TOKEN", "")  # access token (tk_…), sent as a Bearer token
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_URL = env_url("TWILIO_API_URL", "https://api.twilio.com")
SLACK_BOT_TOKEN = env_str("SLACK_BOT_TOKEN", "")
# Chat-ops for a single-workspace install; a ChatWorkspace row set up in the UI takes precedence.
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET", "")
MATTERMOST_COMMAND_TOKEN = env_str("MATTERMOST_COMMAND_TOKEN", "")
TEAMS_OUTGOING_SECRET = env_str("TEAMS_OUTGOING_SECRET", "")
SLACK_API_URL = env_url("SLACK_API_URL", "https://slack.com/api")
# Outgoing webhooks carry X-Muster-Signature: hex HMAC-SHA256 of the body with this secret.
MUSTER_WEBHOOK_SIGNING_SECRET = env_str("MUSTER_WEBHOOK_SIGNING_SECRET", "")
MUSTER_CHANNEL_TIMEOUT_SECONDS = env_float("MUSTER_CHANNEL_TIMEOUT_SECONDS", 10.0, minimum=0.5)
# How long a one-tap acknowledge link in a page works.
MUSTER_ACK_LINK_MAX_AGE_SECONDS = env_int("MUSTER_ACK_LINK_MAX_AGE_SECONDS", 24 * 3600, minimum=60)

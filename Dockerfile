# Muster: one image for every process. The command picks the role:
#   web     (default)  gunicorn, see CMD below
#   worker             celery -A config worker
#   beat               celery -A config beat
#   migrations         python manage.py migrate --noinput
# docker-compose.yml wires them up with PostgreSQL, Redis and an SMTP catcher.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# A venv keeps the app's pinned packages apart from the interpreter's own pip/setuptools.
# Every runtime dependency ships a manylinux wheel (psycopg-binary bundles libpq), so no compiler
# or system library is installed; --require-hashes refuses anything not pinned in base.txt.
COPY requirements/base.txt /tmp/requirements/base.txt
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install --require-hashes --only-binary=:all: -r /tmp/requirements/base.txt \
    && rm -rf /tmp/requirements

RUN groupadd --system --gid 10001 muster \
    && useradd --system --uid 10001 --gid muster --home-dir /app --shell /usr/sbin/nologin muster

WORKDIR /app
# The code stays root-owned and read-only to the app; only var/ (beat schedule, embedded
# fallbacks such as the file mail backend) is writable.
COPY . /app
RUN mkdir -p /app/var && chown muster:muster /app/var

USER muster

# Static files are baked into the image and served by whitenoise. The embedded settings are used
# here because the production profile refuses to load without a real SECRET_KEY, and a build must
# never see one; both profiles share STATIC_ROOT and the storage backend.
RUN DJANGO_SETTINGS_MODULE=config.settings python manage.py collectstatic --noinput --verbosity 0

ENV DJANGO_SETTINGS_MODULE=config.settings_production

EXPOSE 8000

# bench/ingest.py starts gunicorn with these same options (it reads them from this line), so the
# benchmark figures describe this configuration. gthread workers keep a slow database call from
# stalling every request behind it; the heartbeat files go to /dev/shm because an overlay
# filesystem can block them long enough for the arbiter to kill a healthy worker. The control
# socket (gunicorn 25+) would go to $HOME, which the app user cannot write, and nothing in the
# container uses gunicornc.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", "--worker-class", "gthread", "--threads", "4", "--worker-tmp-dir", "/dev/shm", "--timeout", "30", "--graceful-timeout", "30", "--no-control-socket"]

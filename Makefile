# Muster: `make run` starts the embedded demo, `make test` runs the suite. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/base.txt requirements/dev.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint check clean

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit("Muster needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/base.txt -r requirements/dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Web (gunicorn) and a real Celery worker with beat embedded, on SQLite and kombu's filesystem broker.
run: install
	@$(BIN)/python manage.py migrate --noinput -v 0
	@$(BIN)/python manage.py collectstatic --noinput -v 0
	@MUSTER_BASE_URL=http://$(HOST):$(PORT) $(BIN)/python manage.py seed_demo --banner
	@trap 'kill 0' INT TERM EXIT; \
	MUSTER_BASE_URL=http://$(HOST):$(PORT) $(BIN)/celery -A config worker --beat --loglevel WARNING --concurrency 2 & \
	MUSTER_BASE_URL=http://$(HOST):$(PORT) $(BIN)/gunicorn config.wsgi:application --bind $(HOST):$(PORT) \
		--workers 2 --threads 4 --worker-class gthread --no-control-socket --access-logfile - & \
	wait

# The whole suite on the embedded default. Browser tests run when Debian's Chromium is installed
# (apt-get install chromium) and are skipped with the reason otherwise.
test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var

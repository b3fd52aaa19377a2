# NovaMind: the two set-up commands are `make demo` and `make test`; `make serve` is the optional third (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: install demo serve test test-unit lint migrate bench loadtest clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

## make demo: install, migrate the SQLite database, create demo data, serve on 127.0.0.1:8000
demo: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## make serve: production-style serving on loopback: DEBUG off, migrate, collectstatic, gunicorn
## (NOVAMIND_WEB_WORKERS workers, 2 by default, on NOVAMIND_WEB_BIND, 127.0.0.1:8000 by default)
serve: export DEBUG = off
serve: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/gunicorn -c python:novamind.gunicorn_conf novamind.wsgi

## make test: the whole suite; SQLite by default, PostgreSQL when DATABASE_URL says so. One worker
## per core (TEST_WORKERS=1 for one process); each worker has its own test database, and a test
## file stays on one worker (its module fixtures and browser are set up once).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## make test-unit: the tests that need no database (seconds), before every commit
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(shell find . -path ./.venv -prune -o -type d -path '*/tests/unit' -print | sort)

## make lint: ruff (rules and format) and the import contracts of the layering rule
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## make bench: measure NovaMind on a throwaway PostgreSQL database on DATABASE_URL's server (BENCH_ARGS="--scale 10000")
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## make loadtest: concurrent front-desk and clinician sessions (Locust) against `make serve`'s gunicorn on a
## throwaway PostgreSQL database on DATABASE_URL's server (LOADTEST_ARGS="--users 1,10,30 --duration 60")
loadtest: $(STAMP)
	$(BIN)/python -m loadtest $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache test-results

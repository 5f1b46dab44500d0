# The Invisible Bank ASPSP. `make run` serves the platform; `make test` runs the suite.
# Everything runs from the virtual environment in .venv, made with $(PYTHON) when missing.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
FLASK  := $(PY) -m flask --app bank
CELERY := $(PY) -m celery -A wsgi:celery
PORT   ?= 5000
# pytest-xdist workers; `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
# the PostgreSQL server of the benchmarks in bench/
BENCH_PG_URL ?= postgresql://postgres@127.0.0.1:5432
# the Redis db the event-delivery benchmark's broker uses (flushed by it)
BENCH_EVENTS_REDIS ?= redis://127.0.0.1:6379/9

.PHONY: run test venv venv-dev migrate seed worker beat bench config-table conformance clean help prod-local
.DEFAULT_GOAL := help

help:
	@echo "make run           set up .venv, migrate, seed the sandbox if empty, serve on 127.0.0.1:\$$PORT ($(PORT))"
	@echo "make test          set up .venv with the test dependencies and run the whole suite"
	@echo "make venv          .venv with requirements.txt"
	@echo "make migrate       flask db upgrade"
	@echo "make seed          flask sandbox seed"
	@echo "make worker        a Celery worker"
	@echo "make beat          Celery beat (the schedules)"
	@echo "make bench         the eight benchmarks of bench/README.md, each with its baseline (PostgreSQL at BENCH_PG_URL)"
	@echo "make config-table  print README.md's configuration table from aspsp/config.py"
	@echo "make conformance   the conformance suite (CONFORMANCE_PLAN: all, or some of discovery,dcr,fapi2,fapi1,ob-ais,ob-pis,ob-cbpii,ob-vrp) against CONFORMANCE_ISSUER with CONFORMANCE_CONFIG (specs/conformance/README.md)"
	@echo "make prod-local    the production topology on this machine: nginx (TLS, client certificates) -> gunicorn, Celery worker and beat, PostgreSQL, Redis (HTTPS_PORT, default 8443)"
	@echo "make clean         remove instance/ (local database, keys), caches and bench results"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

venv: $(VENV)/.installed

venv-dev: $(VENV)/.installed-dev

migrate: venv
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) sandbox seed

# The dev server seeds the sandbox itself when the database holds no customers yet.
# CONFORMANCE_ON_START=all (or a plan, e.g. discovery,dcr): once serving, run the conformance
# suite in the background for the regulator page /conformance (off by default: see README).
CONFORMANCE_ON_START ?=
run: migrate $(if $(CONFORMANCE_ON_START),venv-dev)
	$(PY) -m deploy.devserver --port $(PORT)$(if $(CONFORMANCE_ON_START), --conformance $(CONFORMANCE_ON_START))

worker: venv
	$(CELERY) worker --loglevel=INFO

beat: venv
	@mkdir -p instance
	$(CELERY) beat --loglevel=INFO --schedule=instance/celerybeat-schedule

test: venv-dev
	$(PY) -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist worksteal) $(PYTEST_ARGS)

# The eight benchmarks of bench/README.md, each against its own baseline in the same run:
# ledger transfers against pgbench, the transactions listing at 1,000,000 against 1,000 postings,
# the AIS transactions page against a static body of the same size, tokens against the JOSE
# work alone, domestic payments end to end against pgbench, event notifications delivered
# by Celery workers on Redis against bare POSTs of the same SETs to the same receiver, the
# developer portal's path to a first AIS call against the same API calls alone, the OBIE KPIs
# of a mixed AIS/PIS load against what its clients measured.
bench: venv-dev
	$(PY) bench/ledger_transfers.py --server $(BENCH_PG_URL)
	$(PY) bench/transactions_listing.py --server $(BENCH_PG_URL)
	$(PY) bench/ais_transactions.py --server $(BENCH_PG_URL)
	$(PY) bench/token_endpoint.py --pg $(BENCH_PG_URL)
	$(PY) bench/pis_payments.py --server $(BENCH_PG_URL)
	$(PY) bench/events_delivery.py --server $(BENCH_PG_URL) --redis $(BENCH_EVENTS_REDIS)
	$(PY) bench/portal_first_call.py
	$(PY) bench/kpi_load.py --server $(BENCH_PG_URL)

# The conformance suite (specs/conformance/README.md): every plan (or CONFORMANCE_PLAN, e.g.
# ob-ais) against a running deployment, reports in instance/conformance-report/; exits 1 when a
# check fails. The functional plans' schema checks use jsonschema (requirements-dev.txt).
CONFORMANCE_ISSUER ?= http://127.0.0.1:$(PORT)
CONFORMANCE_CONFIG ?= conformance.json
CONFORMANCE_PLAN ?= all
conformance: venv-dev
	$(PY) -m specs.conformance --issuer $(CONFORMANCE_ISSUER) --config $(CONFORMANCE_CONFIG) --plan $(CONFORMANCE_PLAN) --report-dir instance/conformance-report

# The production topology of docker-compose.yml on this machine, from Debian packages (README
# "Production topology on one machine"): nginx with deploy/nginx/aspsp.conf -> gunicorn, a Celery
# worker and beat, the machine's PostgreSQL (database aspsp_prod_local) and Redis (db 0), all
# under instance/prod-local/. Ctrl-C stops everything. `python -m deploy.prod_local --help`.
prod-local: venv
	$(PY) -m deploy.prod_local

# README.md's configuration table, from aspsp/config.py SETTINGS.
config-table: venv
	@$(PY) -c "from aspsp.config import markdown_table; print(markdown_table())"

clean:
	rm -rf instance .pytest_cache .hypothesis bench/results
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

# The two commands of the README: `make run` (embedded default, demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
# make test runs against the real services on this machine; DATABASE_URL overrides the database.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/collections)
# Redis database 15 by default (TEST_BROKER_URL overrides): tests purge their queue, so never point them at a
# broker that real workers use.
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test fuzz lint format bench messages schema clean help

help:
	@echo "make run    - set up and run web + Celery worker + beat with demo data on http://127.0.0.1:$(PORT)"
	@echo "make test   - run the whole test suite (PostgreSQL and Redis on 127.0.0.1)"
	@echo "make bench  - benchmarks (1,000,000 loans in a scratch PostgreSQL database)"
	@echo "make fuzz   - nightly: Schemathesis with $(FUZZ_EXAMPLES) generated requests per API operation"
	@echo "make lint   - ruff, import-linter (the layers), mypy (types)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# Prism serves Twilio's OpenAPI description as a validating mock for the contract tests (npm, not the network).
PRISM := .tools/node_modules/.bin/prism
$(PRISM):
	npm install --prefix .tools --no-audit --no-fund --loglevel=error @stoplight/prism-cli@5.14.2

run: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	@echo ""
	@echo "Collections is starting at http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start -p $(PORT)

test: $(VENV)/.dev-installed $(PRISM) lint
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python -m pytest tests/e2e \
		--override-ini "addopts=-ra --strict-markers" $(PYTEST_ARGS)

# Nightly: the Schemathesis test with more generated requests per operation than CI's 25 (same seed, same checks).
FUZZ_EXAMPLES ?= 100
fuzz: $(VENV)/.dev-installed
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(BIN)/python -m pytest tests/collections_app/test_api_fuzz.py $(PYTEST_ARGS)

# Benchmarks print measurements (they are not tests): a scratch PostgreSQL database collections_bench is recreated.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/collections_bench
bench: $(VENV)/.dev-installed
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/sweep_bench.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/compliance_bench.py --api
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/dispatch_bench.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/pages_bench.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/portal_bench.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/desk_bench.py
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/dry_run_bench.py

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The OpenAPI description, from the PostgreSQL settings (integer bounds in it depend on the database vendor).
schema: $(VENV)/.dev-installed
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yml

messages: $(VENV)/.dev-installed
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

clean:
	rm -rf var staticfiles .pytest_cache

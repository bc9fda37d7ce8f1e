# make run  — set up everything on a fresh machine and serve the app with demo data.
# make test — install the dev requirements and run the whole test suite.
# make lint — the gates CI runs before the tests: ruff (lint and format) and mypy.
# make lock / make upgrade — recompile requirements*.txt from requirements*.in (pip-tools).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-random lint lock upgrade setup migrate messages bench clean

# `make run` and its set-up are the development server: DEBUG on (a local secret key, no HTTPS
# redirect) unless the environment says otherwise. Everything else starts with DEBUG off.
setup run messages: export DEBUG ?= true
# Links in mails and the printed login follow the port `make run` serves on.
setup run: export SITE_URL ?= http://$(HOST):$(PORT)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime
	mkdir -p var/outbox
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py ensure_admin

run: setup
	@echo "Serving on http://$(HOST):$(PORT)/  (admin: /admin/, API docs: /api/docs/) with a Celery worker and beat"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" HOST=$(HOST) $(VENV)/bin/honcho start --port $(PORT)

test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

# The property-based tests (schemathesis, the segment rule reference) with fresh random examples, as
# opposed to CI's pinned seed: run it to look for new failures; it reports the seed to replay one.
test-random: $(VENV)/.dev
	$(PY) -m pytest -m "not browser" tests/api/test_schemathesis.py tests/segments/test_rules_reference.py \
		tests/campaigns/test_engagement_conditions.py $(PYTEST_ARGS)

# Every gate runs even when an earlier one fails, so one pass shows all that is left to fix.
lint: $(VENV)/.dev
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	exit $$status

# requirements*.in name the direct dependencies; the .txt files are the locks that installs use. `lock`
# keeps every pin it can (add or remove a dependency, or narrow a range); `upgrade` takes the newest
# releases the ranges allow. The runtime lock is compiled first: the dev lock is constrained by it.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --no-emit-index-url \
	--no-emit-find-links --strip-extras --allow-unsafe

lock upgrade: $(VENV)/.dev
	$(PIP_COMPILE) $(if $(filter upgrade,$@),--upgrade) --output-file=requirements.txt requirements.in
	$(PIP_COMPILE) $(if $(filter upgrade,$@),--upgrade) --output-file=requirements-dev.txt requirements-dev.in

messages: $(VENV)/.dev
	$(PY) manage.py makemessages -l he --ignore=.venv --ignore=var --ignore=tests --ignore=benchmarks
	$(PY) manage.py compilemessages -l he --ignore=.venv

clean:
	rm -rf $(VENV) var

# make run   set everything up and start Harrier (web + worker + beat) on the embedded default
# make test  set everything up and run the whole suite on PostgreSQL + Redis, then embedded
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)

PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: run test test-services test-embedded setup lint format

run:
	@scripts/setup.sh
	@uv run --frozen python manage.py bootstrap
	@PORT=$(PORT) uv run --frozen python manage.py serve

setup:
	@HARRIER_SKIP_MIGRATE=1 scripts/setup.sh
	@scripts/fetch_sdks.sh

test: setup lint test-services test-embedded

# The real services: PostgreSQL and Redis, as on the CI machines.
test-services:
	@echo "==> tests on PostgreSQL + Redis"
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	  uv run --frozen pytest $(PYTEST_ARGS)

# The embedded default (SQLite + filesystem broker) in a throwaway var/ folder.
test-embedded:
	@echo "==> tests on the embedded default (SQLite + filesystem broker)"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  env -u DATABASE_URL -u CELERY_BROKER_URL HARRIER_VAR_DIR="$$tmp" \
	  uv run --frozen pytest $(PYTEST_ARGS)

lint:
	uv run --frozen ruff check .
	uv run --frozen ruff format --check .

format:
	uv run --frozen ruff format .
	uv run --frozen ruff check --fix .

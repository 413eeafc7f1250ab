# Everyday commands. CI runs `bash .ci/run`, which calls `make test` on SQLite and PostgreSQL.
CARGO ?= cargo
BIN := $(CARGO) run -q --bin crm --

.PHONY: run test check fmt clippy contracts contracts-check seed token bench schemathesis client-check js-deps fuzz
run: ## Serve on 127.0.0.1:8080 with ./crm.sqlite3 (or DATABASE_URL)
	$(CARGO) run --bin crm -- serve

test: ## All tests (PostgreSQL too when CRM_TEST_DATABASE_URL is set)
	$(CARGO) test --workspace

fmt:
	$(CARGO) fmt --all

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: ## What CI enforces: formatting, lints, tests, contract drift
	$(CARGO) fmt --all -- --check
	$(MAKE) clippy
	$(MAKE) test

contracts: ## Regenerate openapi/openapi.json and schema.graphql from the code
	$(BIN) export-openapi > openapi/openapi.json
	$(BIN) export-sdl > schema.graphql

fuzz: ## Fuzz list requests (filter, sort, cursor, q) for FUZZ_SECONDS each (default 60): cargo-fuzz, nightly
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

schemathesis: ## Fuzz the served OpenAPI document with schemathesis (config: tests/contract)
	bash tests/contract/run.sh

js-deps: ## Install the pinned node tools of tests/js (playwright-core, openapi-typescript, tsc)
	cd tests/js && npm ci --no-audit --no-fund

client-check: js-deps ## Generate the TypeScript client from openapi/openapi.json and type-check its use
	cd tests/js && npm run client:check

seed: ## Load the demo data set into DATABASE_URL (default ./crm.sqlite3)
	$(BIN) seed --demo

token: ## Print an admin token for local use
	@$(BIN) token --sub local-admin --role admin

bench: ## Release build on seeded SQLite and PostgreSQL, wrk at 32 connections, vs the DB and HTTP ceilings
	bash bench/bench.sh

# Two set-up commands: `make run` and `make test`. Each installs what it needs.
VENV := .venv
PY := $(VENV)/bin/python
# The stamps name the runtime family: a .venv built by an older Makefile on another Python
# (3.11 runs on Amazon Linux 2, past its end of support) is rebuilt, not reused.
# Two stamps: `make run` installs what running needs (requirements-run.txt); `make test`,
# `make bench` and the deploy targets add the test and build tools (requirements-dev.txt).
# Both files are generated from uv.lock (`make lock`): every package pinned, with its hashes,
# which pip checks (--require-hashes: a package not in the lock, or not as locked, fails).
PYTHON_STAMP := $(VENV)/.python-al2023
RUN_STAMP := $(VENV)/.installed-run-al2023
STAMP := $(VENV)/.installed-al2023
DYNALITE := .deps/node_modules/.bin/dynalite
TWILIO_NODE := .deps/node_modules/twilio/package.json
BETTER_AUTH := .deps/node_modules/better-auth/package.json
# The browser the browser tests drive: Debian's /usr/bin/chromium (installed when missing), or
# yours: `CHROMIUM=/path/to/chromium make test` (macOS: the Chrome or Chromium app's binary;
# tests/browser/conftest.py reads the same variable).
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
# Installed only when it is the default path; any other must already run (checked, not made:
# a path with spaces, as macOS's, cannot be a prerequisite).
BROWSER := $(if $(filter /usr/bin/chromium,$(CHROMIUM)),/usr/bin/chromium)
CHECK_BROWSER = @test -x "$(CHROMIUM)" || { echo "CHROMIUM=$(CHROMIUM) is not a program: point it at your Chromium or Chrome, e.g. CHROMIUM=/usr/bin/chromium-browser make test" >&2; exit 1; }
# checkov in a venv of its own (its pins would fight uv.lock): tests/checkov/requirements.txt.
CHECKOV_VENV := .deps/checkov-venv
CHECKOV_BIN := $(CHECKOV_VENV)/bin/checkov
STAGE ?= dev

.PHONY: help run lint test screenshots lock table bench deploy destroy package checkov secret api-key auth-token export forget clean cognito-layer receipts-layer
.DEFAULT_GOAL := help

# `make` alone lists the targets: each target's `## ` comment on its own line.
help:
	@echo "make [target] [STAGE=dev|prod] (the deploy targets need an AWS region and credentials)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 15

# .venv is built with Python 3.13 (or 3.12): the Lambda runtime is named after the Python that
# runs `chalice`, so tests, packages and deploys all run on the Lambda's own Python.
# scripts/find_python.sh says what to install when there is none; PYTHON=... overrides it.
$(PYTHON_STAMP): scripts/find_python.sh
	@interpreter=$$(scripts/find_python.sh) || exit 1; \
	echo "building $(VENV) with $$interpreter ($$($$interpreter --version))"; \
	rm -rf $(VENV) && "$$interpreter" -m venv $(VENV)
	@touch $(PYTHON_STAMP)

$(RUN_STAMP): $(PYTHON_STAMP) requirements.txt requirements-run.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-run.txt
	@touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $(STAMP)

# After editing the dependencies in pyproject.toml: lock them again (uv.lock, with hashes) and
# regenerate the four requirements files from the lock (requirements-cognito.txt: the Cognito
# trigger's layer, `make cognito-layer`). uv comes from requirements-dev.txt.
EXPORT = $(VENV)/bin/uv export --quiet --frozen --no-default-groups --no-emit-project --format requirements-txt
lock: $(STAMP) ## lock pyproject.toml's dependencies again: uv.lock and the requirements*.txt made from it
	$(VENV)/bin/uv lock --python $(PY)
	$(EXPORT) -o requirements.txt
	$(EXPORT) --group run -o requirements-run.txt
	$(EXPORT) --group dev -o requirements-dev.txt
	$(EXPORT) --only-group cognito -o requirements-cognito.txt

# The npm packages' versions are pinned in tests/node/package.json (Dependabot's npm entry
# updates them there); each is installed again when that file changes.
NPM_PIN = $$(node -p "require('./tests/node/package.json').devDependencies['$(1)']")

# dynalite: a DynamoDB implementation with per-item locking, for concurrency tests over HTTP.
$(DYNALITE): tests/node/package.json
	npm install --prefix .deps --no-audit --no-fund --loglevel=error dynalite@$(call NPM_PIN,dynalite)
	@touch $(DYNALITE)

# twilio-node, Twilio's official Node SDK, unchanged: tests/integration/test_twilio_sdks.py drives
# the v2 API with it as a Twilio Verify user would.
$(TWILIO_NODE): tests/node/package.json
	npm install --prefix .deps --no-audit --no-fund --loglevel=error twilio@$(call NPM_PIN,twilio)
	@touch $(TWILIO_NODE)

# Better Auth from npm, unchanged: tests/integration/test_identity_platforms.py runs its phoneNumber
# plugin with docs/examples/better-auth-phone-number.mjs (sendOTP/verifyOTP through twilio-node).
$(BETTER_AUTH): tests/node/package.json
	npm install --prefix .deps --no-audit --no-fund --loglevel=error better-auth@$(call NPM_PIN,better-auth)
	@touch $(BETTER_AUTH)

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser). Only
# the default path is installed; a CHROMIUM of your own must exist (make says so when it does not).
/usr/bin/chromium:
	@command -v apt-get >/dev/null || { echo "no /usr/bin/chromium and no apt-get to install it: run CHROMIUM=/path/to/chromium make ..." >&2; exit 1; }
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# checkov's own venv, on the Python .venv uses; made again when its requirements change.
$(CHECKOV_BIN): tests/checkov/requirements.txt
	@interpreter=$$(scripts/find_python.sh) || exit 1; rm -rf $(CHECKOV_VENV) && "$$interpreter" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/checkov/requirements.txt
	@touch $(CHECKOV_BIN)

run: $(RUN_STAMP) ## serve the API and the page on http://127.0.0.1:8000 (local DynamoDB, SMS in the terminal)
	@$(PY) scripts/local/run_local.py

# Lint and types before the tests: any ruff finding or mypy error fails `make test` (and CI).
# Paths and settings come from pyproject.toml; `ruff format` is not applied (yet).
lint: $(STAMP) ## ruff and mypy (make test runs it first)
	$(PY) -m ruff check app.py chalicelib scripts
	$(PY) -m mypy app.py chalicelib scripts

# Two pytest workers (pytest-xdist), each taking whole files (a file's servers start once);
# TEST_WORKERS=1 runs in one process, TEST_WORKERS=auto one per core.
TEST_WORKERS ?= 2
test: lint $(STAMP) $(DYNALITE) $(TWILIO_NODE) $(BETTER_AUTH) $(BROWSER) $(CHECKOV_BIN) ## install everything, then lint, unit, integration and browser tests
	$(CHECK_BROWSER)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The pictures in docs/screenshots/ are the page as the layout tests see it; a test run writes
# its own into tests/browser/screenshots/ and leaves the committed ones alone.
screenshots: $(STAMP) $(DYNALITE) $(BROWSER) ## take docs/screenshots/ again from the page (commit them when the page changes)
	$(CHECK_BROWSER)
	OTP_DOCS_SCREENSHOTS=1 $(PY) -m pytest -q tests/browser/test_layout.py

# Benchmarks (not tests): one table of ratios against floors measured in the same run.
# `make bench ARGS=--load`: the load run only (bench/load.py; --clients N --verifications M).
bench: $(STAMP) $(DYNALITE) ## measure: one table of figures against floors (about 3 minutes)
	@$(PY) bench/run.py $(ARGS)

# Every AWS target first finds the region (AWS_DEFAULT_REGION, the profile's config, or
# AWS_REGION) and stops with a message naming the variable when there is none; then the
# credentials (scripts/deploy/aws_access.py): none, expired or refused is one line and exit 1.
REGION = $$($(PY) scripts/deploy/provision.py region)
BUILD ?= build/$(STAGE)

# Amazon Cognito's CustomSMSSender trigger (a stage with OTP_HOOK_COGNITO_KEY_ID): its layer holds
# the AWS Encryption SDK and cryptography, never the API's zip. `pip download --platform
# manylinux2014_$(LAYER_ARCH) --only-binary=:all:` of requirements-cognito.txt (uv.lock's hashes),
# for the Lambda's Python: scripts/deploy/cognito_trigger.py. LAYER_ARCH=aarch64 for arm64.
LAYER_ARCH ?= x86_64
COGNITO = $(PY) scripts/deploy/cognito_trigger.py
cognito-layer: $(STAMP) ## build the Cognito trigger's layer (AWS Encryption SDK) into build/STAGE/cognito-layer.zip
	$(COGNITO) build --arch $(LAYER_ARCH) --out $(BUILD)/cognito-layer.zip

# The API function's receipts layer (a stage with OTP_RECEIPT_SIGNING=minute_key): `cryptography`,
# never in the API's zip, built as the Cognito trigger's is (scripts/deploy/layers.py) from
# requirements-cognito.txt's cryptography, cffi and pycparser: scripts/deploy/receipt_layer.py.
RECEIPTS_LAYER = $(PY) scripts/deploy/receipt_layer.py
receipts-layer: $(STAMP) ## build the API's receipts layer (cryptography, for minute-key receipts) into build/STAGE/receipts-layer.zip
	$(RECEIPTS_LAYER) build --arch $(LAYER_ARCH) --out $(BUILD)/receipts-layer.zip

# Deploy to your AWS account: the table and the secret (idempotent), the channels' topics and
# SES configuration set when on, the Cognito trigger's key and layer when on (published before
# chalice deploy, its ARN recorded in the stage's lambda_functions.cognito_sms.layers), the API's
# receipts layer when OTP_RECEIPT_SIGNING=minute_key (likewise, lambda_functions.api_handler), chalice
# deploy (its zip with the cold path as bytecode, as `make package`'s: scripts/deploy/chalice_deploy.py),
# then the stage's throttling, API Gateway's own answers (deployed), log retention, SNS SMS
# delivery-status logs, and how to attach the Cognito trigger to a user pool. The table is never dropped.
deploy: $(STAMP) ## deploy STAGE to AWS with chalice (table, secret, keys, API, function)
	@region=$(REGION) || exit 1; export AWS_DEFAULT_REGION=$$region; set -e; \
	$(PY) scripts/deploy/provision.py before --stage $(STAGE); \
	if $(COGNITO) enabled --stage $(STAGE); then \
	  $(COGNITO) build --arch $(LAYER_ARCH) --out $(BUILD)/cognito-layer.zip; \
	  $(COGNITO) publish --stage $(STAGE) --arch $(LAYER_ARCH) --zip $(BUILD)/cognito-layer.zip; fi; \
	if $(RECEIPTS_LAYER) enabled --stage $(STAGE); then \
	  $(RECEIPTS_LAYER) build --arch $(LAYER_ARCH) --out $(BUILD)/receipts-layer.zip; \
	  $(RECEIPTS_LAYER) publish --stage $(STAGE) --arch $(LAYER_ARCH) --zip $(BUILD)/receipts-layer.zip; \
	else $(RECEIPTS_LAYER) publish --stage $(STAGE); fi; \
	export OTP_EVENTS_STREAM_ARN=$$($(PY) scripts/deploy/provision.py stream --stage $(STAGE)); \
	find chalicelib -name __pycache__ -type d -prune -exec rm -rf {} +; \
	PYTHONDONTWRITEBYTECODE=1 $(PY) scripts/deploy/chalice_deploy.py deploy --stage $(STAGE); \
	$(PY) scripts/deploy/provision.py after --stage $(STAGE)

destroy: $(STAMP) ## delete STAGE's function, role, API and dashboard (the table and the secret are kept)
	@region=$(REGION) || exit 1; export AWS_DEFAULT_REGION=$$region; set -e; \
	$(PY) scripts/deploy/provision.py credentials; \
	$(VENV)/bin/chalice delete --stage $(STAGE); \
	$(PY) scripts/deploy/provision.py destroy --stage $(STAGE)
	@echo "Deleted the Lambda function, its role, the API and the dashboard of stage $(STAGE). The DynamoDB table, the SSM secret and the log group are kept."

# Only the secret parameter: the CloudFormation path's one step outside the stack.
secret: $(STAMP) ## create STAGE's secret parameter and KMS keys (the CloudFormation path's one step)
	@region=$(REGION) || exit 1; AWS_DEFAULT_REGION=$$region $(PY) scripts/deploy/provision.py secret --stage $(STAGE)

# CloudFormation/SAM: chalice package merged with the table, the log group, the alarms and their
# topic (an email subscription from OTP_ALARM_EMAIL), the channels' topics and SES configuration
# set when on, the Cognito trigger (its key, function and AWS::Serverless::LayerVersion, whose
# cognito-layer.zip is written beside sam.json) when on, the API's receipts layer
# (receipts-layer.zip) when OTP_RECEIPT_SIGNING=minute_key; linted. Writes $(BUILD)/out.
package: $(STAMP) ## build STAGE's CloudFormation template and Lambda zip into build/STAGE/out
	@region=$(REGION) || exit 1; export AWS_DEFAULT_REGION=$$region; set -e; \
	mkdir -p $(BUILD); \
	$(PY) scripts/deploy/package_template.py $(STAGE) > $(BUILD)/resources.json; \
	find chalicelib -name __pycache__ -type d -prune -exec rm -rf {} +; \
	PYTHONDONTWRITEBYTECODE=1 $(VENV)/bin/chalice package --stage $(STAGE) --merge-template $(BUILD)/resources.json $(BUILD)/out; \
	$(PY) scripts/deploy/package_bytecode.py $(BUILD)/out/deployment.zip; \
	if $(COGNITO) enabled --stage $(STAGE); then \
	  $(COGNITO) build --arch $(LAYER_ARCH) --out $(BUILD)/out/cognito-layer.zip; fi; \
	if $(RECEIPTS_LAYER) enabled --stage $(STAGE); then \
	  $(RECEIPTS_LAYER) build --arch $(LAYER_ARCH) --out $(BUILD)/out/receipts-layer.zip; fi; \
	$(VENV)/bin/cfn-lint $(BUILD)/out/sam.json; \
	echo "$(BUILD)/out ($$region): sam.json and deployment.zip ($$($(PY) -c 'import os, sys; print(os.path.getsize(sys.argv[1]))' $(BUILD)/out/deployment.zip) bytes)"

# checkov on the template `make package` writes, offline: exit 1 on any finding that is neither
# fixed nor skipped with its reason (scripts/deploy/template_checks.py; docs/going-live.md#checkov).
checkov: $(STAMP) $(CHECKOV_BIN) ## checkov on STAGE's packaged template: fails on a finding neither fixed nor explained
	@$(MAKE) -s package STAGE=$(STAGE) BUILD=$(BUILD)
	@CHECKOV=$(CHECKOV_BIN) $(PY) scripts/deploy/checkov_run.py $(BUILD)/out/sam.json

# An API key for the v2 (Twilio Verify) API: prints {"account_sid", "api_key_sid", "api_key_secret"}
# once (the table keeps a keyed hash). List and revoke: python scripts/keys/api_keys.py list|revoke.
# SERVICES=VA...,VA...: the key acts on those Services only (403 20403 elsewhere); unset: all.
api-key: $(STAMP) ## create an API key for the Twilio Verify (v2) API: make api-key STAGE=dev NAME=backend
	@region=$(REGION) || exit 1; AWS_DEFAULT_REGION=$$region $(PY) scripts/keys/api_keys.py create --stage $(STAGE) \
		--name "$(NAME)" $(if $(SERVICES),--services "$(SERVICES)")

# The account's auth token (Client(account_sid, auth_token)): ACTION=create (the default) prints
# {"account_sid", "auth_token", "role"} once; rotate makes a secondary (both work), promote makes
# it the primary, revoke ends both (SECONDARY=1: the secondary only).
ACTION ?= create
auth-token: $(STAMP) ## the v2 API's auth token: make auth-token STAGE=dev [ACTION=rotate|promote|revoke]
	@region=$(REGION) || exit 1; AWS_DEFAULT_REGION=$$region $(PY) scripts/keys/api_keys.py auth-token $(ACTION) \
		--stage $(STAGE) $(if $(SECONDARY),--secondary)

# A person's data (docs/personal-data.md): export prints, as JSON, everything STAGE's table keeps
# about one number or address (TO=) or TOTP identity (IDENTITY=); forget erases it and prints the
# counts. SERVICE=VA... also looks in a Service deleted since. No Scan: key lookups and one read
# of the attempts index (its cost is on that page).
PERSON = $(if $(TO),--to "$(TO)") $(if $(IDENTITY),--identity "$(IDENTITY)") $(if $(SERVICE),--service "$(SERVICE)")
# Checked when the Makefile is read, before any prerequisite is built.
ifneq ($(filter export forget,$(MAKECMDGOALS)),)
ifeq ($(TO)$(IDENTITY),)
$(error make $(filter export forget,$(MAKECMDGOALS)) needs TO=+14155552671 (or an email address) or IDENTITY=...)
endif
endif
export: $(STAMP) ## print what STAGE keeps about a person as JSON: make export STAGE=dev TO=+1... (or IDENTITY=)
	@region=$(REGION) || exit 1; AWS_DEFAULT_REGION=$$region $(PY) scripts/data/personal_data.py export --stage $(STAGE) $(PERSON)

forget: $(STAMP) ## erase everything STAGE keeps about a person: make forget STAGE=dev TO=+1... (or IDENTITY=)
	@region=$(REGION) || exit 1; AWS_DEFAULT_REGION=$$region $(PY) scripts/data/personal_data.py forget --stage $(STAGE) $(PERSON)

# Create or update the table named by OTP_TABLE_NAME (AWS_ENDPOINT_URL_DYNAMODB respected).
table: $(STAMP) ## create or update the DynamoDB table named by OTP_TABLE_NAME
	$(PY) scripts/deploy/create_table.py

clean: ## remove .venv and .deps
	rm -rf $(VENV) .deps

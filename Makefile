# Everything a user or CI runs. The targets that run the project's Python (test, lint, demo, try, bench, fuzz)
# create the virtualenv .venv first, so a fresh clone needs only Python 3.11+ and make; stack, configure and replay
# need only python3, deploy the fn CLI, and check-iac makes a virtualenv of its own (.venv-iac).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
APP    ?= logzio
FN     ?= logzio-from-bucket
# Defined before any rule names them: make expands a rule's prerequisites as it reads the rule.
IMAGE       ?= .image
IMAGE_TESTS ?= tests/test_function.py tests/test_metrics.py tests/test_standins.py::test_the_fdk_child_imports_only_from_its_image

.PHONY: help venv test lint check-iac demo bench fuzz stack apply deploy configure replay clean image-tree image-test lock

help:
	@echo "make demo      run the function through fdk against local stand-ins and show what it shipped"
	@echo "make try       start the stand-ins in the foreground and print ship and replay commands to try against them"
	@echo "make test      run the test suite"
	@echo "make lint      ruff + mypy --strict"
	@echo "make check-iac checkov + terraform fmt on deploy/terraform; also init, validate, test with TF_PROVIDER_MIRROR=<mirror>"
	@echo "make bench     benchmark against the seed's PoC (writes bench/out/ and the results block of docs/performance.md)"
	@echo "make image-tree DIR=d  lay out at d what the image's /python holds (the Dockerfile's step), print its size"
	@echo "make image-test the fdk end-to-end tests and the demo with only that tree and the function's code on the path"
	@echo "make lock      regenerate requirements.lock (hashes) from requirements.txt"
	@echo "make fuzz      fuzz the decoder with atheris for FUZZ_SECONDS (default 300; not part of make test)"
	@echo "make stack     zip deploy/terraform as an OCI Resource Manager stack (one per region)"
	@echo "make apply     terraform apply in every subscribed region, home region first (REGIONS=\"a b\", STACK=registry)"
	@echo "make deploy    fn build once, push the image to every region's registry (REGIONS=\"a b\")"
	@echo "make configure fn config function \$$APP \$$FN <key> <value> for every key set in the environment"
	@echo "make replay    fn invoke \$$APP \$$FN with a replay payload (PREFIX=audit/)"

venv: $(VENV)/.installed $(VENV)/.screen

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The shape stage's byte screen in C (native/screen.c), compiled beside indexable.py as the image's build stage
# compiles it. Without a C compiler and the Python headers everything still works, on the slower screen in Python.
$(VENV)/.screen: native/screen.c deploy/image_tree.py $(VENV)/.installed
	$(PY) deploy/image_tree.py native logzio_forwarder/pipeline || \
		echo "note: the byte screen was not compiled (no C compiler or Python headers?); shaping uses its Python screen"
	touch $@

# Coverage of lines and branches, the fdk and CLI children included (pyproject.toml [tool.coverage.*]): the
# product's report closes the run and fails below its floor (fail_under); the stand-ins' total is shown before it.
test: venv
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest -q
	$(PY) -m coverage combine --quiet
	@echo "stand-ins (standins/, not held to the floor): $$($(PY) -m coverage report --include='standins/*' --fail-under=0 --format=total) %"
	$(PY) -m coverage report

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# checkov lives in a virtualenv of its own: its dependencies would fight the project's pins.
IAC_VENV        ?= .venv-iac
CHECKOV_VERSION := 3.3.30

check-iac: $(IAC_VENV)/.checkov-$(CHECKOV_VERSION)
	bash deploy/terraform/check.sh $(IAC_VENV)/bin/checkov

$(IAC_VENV)/.checkov-$(CHECKOV_VERSION):
	$(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(IAC_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

demo: venv
	$(PY) -m standins.demo

.PHONY: try
try: venv
	$(PY) -m standins

bench: venv $(IMAGE)/.python-built $(IMAGE)/full/.python-built
	rm -rf $(IMAGE)/function $(IMAGE)/full/function
	$(PY) deploy/image_tree.py stage $(IMAGE)
	$(PY) deploy/image_tree.py stage $(IMAGE)/full
	$(PY) -m bench --image $(IMAGE) --full-image $(IMAGE)/full

# The function image's /python, as the Dockerfile lays it out (deploy/image_tree.py build: pip install
# --require-hashes from requirements.lock, pruned to deploy/image/keep.txt, checked). `make image-test` runs the
# fdk end-to-end tests and the demo from it under `python3 -S` (FDK_IMAGE, standins/fdkserver.py), with the image's
# /function staged beside it as the Dockerfile copies it. CI runs image-test (.ci/run).

image-tree:
	@test -n "$(DIR)" || { echo "usage: make image-tree DIR=<empty or new directory>"; exit 2; }
	$(PYTHON) deploy/image_tree.py build $(DIR)

$(IMAGE)/.python-built: requirements.lock deploy/image/keep.txt deploy/image_tree.py
	rm -rf $(IMAGE)/python $@
	$(PYTHON) deploy/image_tree.py build $(IMAGE)/python
	touch $@

$(IMAGE)/full/.python-built: requirements.lock
	rm -rf $(IMAGE)/full/python $@
	$(PYTHON) deploy/image_tree.py build --full $(IMAGE)/full/python
	touch $@

image-test: venv $(IMAGE)/.python-built
	rm -rf $(IMAGE)/function
	$(PY) deploy/image_tree.py stage $(IMAGE)
	FDK_IMAGE=$(IMAGE) $(PY) -m standins.demo > /dev/null
	FDK_IMAGE=$(IMAGE) $(PY) -m pytest -q -p no:cacheprovider $(IMAGE_TESTS)
	$(PY) deploy/image_tree.py size $(IMAGE)/python

# requirements.lock: every runtime dependency pinned with the hashes of all its files, for the image build's
# pip install --require-hashes. uv (pinned) lives in a virtualenv of its own.
LOCK_VENV  ?= .venv-lock
UV_VERSION := 0.13.8

lock: $(LOCK_VENV)/.uv-$(UV_VERSION)
	$(LOCK_VENV)/bin/uv pip compile requirements.txt --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu -o requirements.lock

$(LOCK_VENV)/.uv-$(UV_VERSION):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	touch $@

# Coverage-guided fuzzing of the decoder (tests/fuzz_decode.py). atheris is installed into the venv on first use;
# the corpus is kept in $(VENV)/fuzz/corpus, a failing input is saved as $(VENV)/fuzz/crash-*.
ATHERIS      ?= atheris==3.0.0
FUZZ_SECONDS ?= 300

fuzz: venv
	$(PY) -c 'import atheris' 2>/dev/null || $(PY) -m pip install --quiet '$(ATHERIS)'
	mkdir -p $(VENV)/fuzz/corpus
	$(PY) -m tests.fuzz_decode -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
		-dict=tests/fuzz_decode.dict -artifact_prefix=$(VENV)/fuzz/ $(VENV)/fuzz/corpus

# Deployment (docs/deployment.md). APP and FN default to the seed's names; see deploy/fnctl.py for the details.
# REGIONS: a space-separated subset of the tenancy's regions (with its home region); default: every subscribed one.
PREFIX           ?= audit/
OBJECTS          ?=
REGIONS          ?=
STACK            ?= forwarder
IMAGE_REPOSITORY ?=

stack:
	$(PYTHON) deploy/fnctl.py stack deploy/stack.zip

apply: venv
	$(PY) deploy/fnctl.py apply --stack $(STACK) $(if $(REGIONS),--regions $(REGIONS))

deploy: venv
	$(PY) deploy/fnctl.py deploy $(if $(REGIONS),--regions $(REGIONS)) $(if $(IMAGE_REPOSITORY),--image-repository '$(IMAGE_REPOSITORY)')

configure:
	$(PYTHON) deploy/fnctl.py configure --app $(APP) --fn $(FN)

replay:
	$(PYTHON) deploy/fnctl.py replay --app $(APP) --fn $(FN) $(if $(OBJECTS),--objects $(OBJECTS),--prefix '$(PREFIX)')

clean:
	rm -rf $(VENV) $(IAC_VENV) $(LOCK_VENV) $(IMAGE) logzio_forwarder/pipeline/_screen.*.so .pytest_cache .mypy_cache .ruff_cache bench/out deploy/stack.zip

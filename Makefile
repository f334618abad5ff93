# Two commands do all set-up on a fresh machine (Python >= 3.10, Node >= 18, apt):
#   make demo    install what the demo needs (the package and JupyterLab), open JupyterLab on the quickstart
#                (HEADLESS=1: run it without a browser)
#   make test    install everything (Debian chromium included) and run the whole test suite
# The other CI legs (.ci/run): `make jax-check` and `make torch-check` run the unit tests on the other Keras
# backends (JAX sharding across 2 CPU devices); `make colab-check` and `make colab-tpu-check` install into
# Colab's pinned stacks (constraints/, copies of ../shared's) and run the unit tests there.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COLAB_VENV ?= .venv-colab
COLAB_CONSTRAINTS ?= constraints/colab.txt
COLAB_TPU_VENV ?= .venv-colab-tpu
COLAB_TPU_CONSTRAINTS ?= constraints/colab-tpu.txt
UNIT := -m "not ui and not packaging"
# The unit tests run in WORKERS processes (pytest-xdist), one per core of a 2-core machine such as CI's or
# Colab's: twice as fast, and faster still because each process's heap stays half as big (a full garbage
# collection in one process that has run every test file took up to 24 s). `--dist loadfile` keeps each
# file in one process, so its module fixtures (its trained runs) are made once.
WORKERS ?= 2
PARALLEL := -n $(WORKERS) --dist loadfile
# `make unit`, and the first part of `make test` (run there directly, so that pytest's own exit code is seen).
UNIT_TESTS = $(PY) -m pytest $(PARALLEL) -m "not ui" $(PYTEST_ARGS)
# JAX's data parallelism for real on a CPU: two devices to shard each batch across.
TWO_DEVICES := XLA_FLAGS=--xla_force_host_platform_device_count=2
DEMO ?= examples/01_quickstart.ipynb
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: demo test unit install js chromium torch jax-check torch-check colab-check colab-tpu-check clean

demo: $(VENV)/.installed-demo
ifdef HEADLESS
	$(PY) -m convlab_widgets.demo --headless $(DEMO)
else
	$(PY) -m convlab_widgets.demo $(DEMO)
endif

# `make unit` (the unit and packaging tests, in parallel), then the browser tests one at a time (each
# drives its own JupyterLab and Chromium); both parts run, and either one failing fails the whole
# (pytest's 5, "nothing collected", is no failure: PYTEST_ARGS="-k ..." may select from one part only).
test: install chromium
	$(UNIT_TESTS); unit=$$?; \
	$(PY) -m pytest -m ui $(PYTEST_ARGS); ui=$$?; \
	for part in $$unit $$ui; do [ $$part = 0 ] || [ $$part = 5 ] || exit $$part; done

unit: install
	$(UNIT_TESTS)

install: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	npm --prefix js ci --no-audit --no-fund

js: js/node_modules/.package-lock.json
	npm --prefix js run build

# The editable install runs the JS build through hatch-jupyter-builder; building
# first keeps the bundle fresh when js/src changed since the last install.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml js/package.json js/package-lock.json $(wildcard js/src/*)
	$(MAKE) js
	$(PY) -m pip install -e ".[test,bench,tensorflow,jax]"
	$(MAKE) torch
	touch $@

# PyTorch's CPU build (the registry's default build brings 3 GB of CUDA libraries): a CPU wheel on this
# machine when there is one, else PyTorch's own CPU index.
torch: $(VENV)/bin/python
	@wheel=$$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -1); \
	if [ -n "$$wheel" ]; then $(PY) -m pip install -q "$$wheel"; \
	else $(PY) -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu; fi

# The demo needs only the `lab` extra (JupyterLab; nbclient and ipykernel for HEADLESS=1) and one Keras
# backend, not the test and benchmark tools. TensorFlow: its first loss point comes in under a second on a
# CPU, where JAX's first compile takes several (benchmarks/RESULTS.md, bench_backends.py).
$(VENV)/.installed-demo: $(VENV)/bin/python pyproject.toml js/package.json js/package-lock.json $(wildcard js/src/*)
	$(MAKE) js
	$(PY) -m pip install -e ".[lab,tensorflow]"
	touch $@

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

colab-check: js
	rm -rf $(COLAB_VENV)
	$(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -q --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install -c $(COLAB_CONSTRAINTS) ".[test,tensorflow,jax]"
	$(COLAB_VENV)/bin/python tests/check_pins.py $(COLAB_CONSTRAINTS)
	$(COLAB_VENV)/bin/python -m pytest $(PARALLEL) $(UNIT) $(PYTEST_ARGS)

jax-check: install
	KERAS_BACKEND=jax $(TWO_DEVICES) $(PY) -m pytest $(PARALLEL) $(UNIT) --ignore=tests/test_examples.py $(PYTEST_ARGS)

# PyTorch on one device: training, pause, stop, export and saving, gradients (health, Grad-CAM).
torch-check: install
	KERAS_BACKEND=torch $(PY) -m pytest $(PARALLEL) $(UNIT) $(PYTEST_ARGS) tests/test_training_trainer.py \
		tests/test_training_script.py tests/test_training_predictions.py tests/test_lab_runs.py tests/test_persistence.py \
		tests/test_training_gradients.py tests/test_training_health.py tests/test_training_attention.py

# Colab's TPU runtime: JAX and Keras, no TensorFlow (the install must not pull it) and no bqplot.
colab-tpu-check: js
	rm -rf $(COLAB_TPU_VENV)
	$(PYTHON) -m venv $(COLAB_TPU_VENV)
	$(COLAB_TPU_VENV)/bin/python -m pip install -q --upgrade pip
	$(COLAB_TPU_VENV)/bin/python -m pip install -c $(COLAB_TPU_CONSTRAINTS) ".[test,jax]"
	$(COLAB_TPU_VENV)/bin/python tests/check_pins.py $(COLAB_TPU_CONSTRAINTS) --absent tensorflow
	$(TWO_DEVICES) $(COLAB_TPU_VENV)/bin/python -m pytest $(PARALLEL) $(UNIT) --ignore=tests/test_examples.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(COLAB_VENV) $(COLAB_TPU_VENV) js/node_modules convlab_widgets/static build dist

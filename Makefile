# Two commands do all set-up on a fresh machine (Python >= 3.10, Node >= 18, apt):
#   make demo    install what the demo needs (the package and JupyterLab), open JupyterLab on the quickstart
#                (HEADLESS=1: run it without a browser)
#   make test    install everything (Debian chromium included) and run the whole test suite
# `make colab-check` is the second CI leg: install into Colab's pinned stack and run the unit tests.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COLAB_VENV ?= .venv-colab
COLAB_CONSTRAINTS ?= ../shared/colab-constraints.txt
DEMO ?= examples/01_quickstart.ipynb
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: demo test install js chromium colab-check clean

demo: $(VENV)/.installed-demo
ifdef HEADLESS
	$(PY) -m convlab_widgets.demo --headless $(DEMO)
else
	$(PY) -m convlab_widgets.demo $(DEMO)
endif

test: install chromium
	$(PY) -m pytest $(PYTEST_ARGS)

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
	$(PY) -m pip install -e ".[test,bench]"
	touch $@

# The demo needs only the `lab` extra (JupyterLab; nbclient and ipykernel for HEADLESS=1), not the test
# and benchmark tools.
$(VENV)/.installed-demo: $(VENV)/bin/python pyproject.toml js/package.json js/package-lock.json $(wildcard js/src/*)
	$(MAKE) js
	$(PY) -m pip install -e ".[lab]"
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
	$(COLAB_VENV)/bin/python -m pip install -c $(COLAB_CONSTRAINTS) ".[test]"
	$(COLAB_VENV)/bin/python tests/check_pins.py $(COLAB_CONSTRAINTS)
	$(COLAB_VENV)/bin/python -m pytest -m "not ui and not packaging" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(COLAB_VENV) js/node_modules convlab_widgets/static build dist

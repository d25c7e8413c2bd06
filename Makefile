# Butler: set-up, demo and tests. `make demo` and `make test` install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-deps bytecode editors demo test unit e2e lint bench clean

# System packages: redis-server (the Redis queue backend), espeak-ng (generated speech
# for format tests), PortAudio (microphone capture), a PulseAudio server with ALSA's
# pulse plugin (the virtual microphone of the dictation tests), and Emacs with eglot
# and markdown-mode (the Emacs client's tests: Debian 12's Emacs 28 takes eglot from
# elpa-eglot). As root (CI, a fresh machine) they are installed; otherwise the command
# to run is printed.
SYSTEM_PACKAGES := redis-server espeak-ng libportaudio2 pulseaudio pulseaudio-utils \
	libasound2-plugins alsa-utils emacs-nox elpa-eglot elpa-markdown-mode
system-deps:
	@missing=""; for pkg in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y --no-install-recommends $$missing || \
	      { apt-get update && apt-get install -y --no-install-recommends $$missing; }; \
	  else \
	    echo "missing:$$missing; run: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi

# The virtual environment with Butler (editable) and the test tools.
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Butler needs Python >= 3.11"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,multilingual]'
	touch $(STAMP)

setup: $(STAMP) system-deps bytecode editors

# The VS Code extension (.vsix) and what its tests in a real VS Code need: Chromium,
# Node 24, code-server and playwright-core, in .cache/vscode-test (skipped when present).
editors: $(STAMP)
	editors/vscode/build.sh
	tests/vscode/setup.sh

# Byte-compile Butler's own code: an editable install is not precompiled, and where
# PYTHONDONTWRITEBYTECODE is set every start would compile it again (~50 ms).
bytecode: $(STAMP)
	$(PY) -m compileall -q butler_ls plugins docs/examples

# The main job on the embedded defaults, through a real LSP session.
demo: $(STAMP) system-deps bytecode
	HF_HUB_OFFLINE=1 $(PY) -m butler_ls.demo

test: setup lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -p no:cacheprovider

unit: $(STAMP) bytecode
	$(PY) -m pytest -q tests/unit

e2e: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check butler_ls plugins tests docs/examples benchmarks
	$(VENV)/bin/ruff format --check butler_ls plugins tests docs/examples benchmarks

bench: setup
	$(PY) benchmarks/startup.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache

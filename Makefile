# vitwidgets: two commands do all the set-up on a fresh machine.
#   make demo   creates .venv, installs, opens JupyterLab on the quickstart notebook (127.0.0.1)
#   make test   creates .venv, installs, installs Chromium when missing, builds, runs every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8888
# Never reach for a model hub in tests; the demo needs none either (bundled zoo models).
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test setup chromium js lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt hatch_build.py $(wildcard js/package.json js/package-lock.json)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# Debian's Chromium for the real-browser tests (never `playwright install`: it downloads).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Chromium from Debian"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

# Rebuild the frontend bundles (pip install runs this too, through the build hook). `npm install`
# rather than `npm ci`: the lockfile omits @napi-rs/canvas builds for other platforms that this
# registry does not serve, which `npm ci`'s strict check rejects.
# The JupyterLab extension (BokehJS once per page) is installed by pip as a copy in the venv's
# share/jupyter/labextensions: refresh that copy too (reload the JupyterLab page to use it).
EXT := $(VENV)/share/jupyter/labextensions/vitwidgets-bokehjs
js: setup
	@if [ -f js/package.json ]; then cd js && npm install --no-audit --no-fund --loglevel=error && npm run build; fi
	@if [ -d $(EXT) ]; then rm -f $(EXT)/static/remoteEntry.*.js && cp -r vitwidgets/static/labextension/. $(EXT)/; fi

lint: setup
	$(VENV)/bin/ruff check vitwidgets tests bench

test: setup chromium js lint
	@if [ -f js/package.json ]; then cd js && npm test; fi
	$(PY) -m pytest -q -ra

demo: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --port=$(PORT) \
	  $$([ "$$(id -u)" = 0 ] && echo --ServerApp.allow_root=True) \
	  notebooks/01_quickstart.ipynb

bench: setup
	$(PY) bench/capture.py

clean:
	rm -rf $(VENV) js/node_modules vitwidgets/static artifacts

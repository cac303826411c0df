# The two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint venv demo clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/dmtl-studio --demo

lint: $(STAMP)
	$(VENV)/bin/ruff check dmtl_studio tests bench
	$(VENV)/bin/lint-imports

test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build dist *.egg-info

# The offline installer (docs/packaging.md): the frozen app in dist/dmtl-studio/ and, on Linux, the tarball.
# package-smoke tests the frozen app (offscreen, no network); it rebuilds the bundle when a source is newer.
.PHONY: package package-smoke
PACKAGE_STAMP := $(VENV)/.installed-package
BUNDLE := dist/dmtl-studio/dmtl-studio
BUNDLE_SOURCES := pyproject.toml $(shell find dmtl_studio packaging -type f -not -path '*/__pycache__/*' 2>/dev/null)

$(PACKAGE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,package]'
	@touch $(PACKAGE_STAMP)

package: $(PACKAGE_STAMP)
	PYTHON=$(PY) bash packaging/build.sh

$(BUNDLE): $(PACKAGE_STAMP) $(BUNDLE_SOURCES)
	PYTHON=$(PY) bash packaging/build.sh --no-tarball

package-smoke: $(BUNDLE)
	bash packaging/smoke_test.sh dist/dmtl-studio

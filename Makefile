# Two entry points that work on a fresh machine: `make demo` and `make test`.
# Each bootstraps a pinned uv into .tools/ and the locked environment into .venv/.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced

.PHONY: demo test lint bench strip clean integrations integrations-test

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# With the serve extra, which `make test` tests and the image runs (`pip install headcast` alone
# leaves the web stack out). Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set
# (this project's machines, most containers), every run would otherwise compile each module it
# imports, 1.5-2.5 s of a 26 s clip's 5-7 s.
$(STAMP): $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --frozen --extra serve --quiet --compile-bytecode
	$(VENV)/bin/python -m compileall -q src
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(VENV)/bin/headcast animate samples/astronaut.png samples/speech.wav \
		--text @samples/speech.txt -o out/demo.mp4

test: $(STAMP)
	scripts/install_test_system_deps.sh
	$(VENV)/bin/ruff check src tests quality benchmarks scripts
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	# On both cores; a file's tests stay on one worker, with the servers its fixtures share.
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile

# The voice-agent integrations (docs/integrations.md): each its own locked environment in
# integrations/<name>/.venv (their frameworks need a protobuf MediaPipe cannot share), tested
# with its own python against the core's `headcast serve` and judge (hence $(STAMP)).
INTEGRATIONS := client pipecat livekit
INTEGRATION_PYTHON := 3.11

integrations: $(UV)
	@for name in $(INTEGRATIONS); do \
		dir=integrations/$$name; \
		if [ ! -f $$dir/pyproject.toml ]; then echo "$$dir: no pyproject.toml, skipped"; continue; fi; \
		echo "$$dir: uv sync"; \
		(cd $$dir && $(CURDIR)/$(UV) sync --frozen --quiet --python $(INTEGRATION_PYTHON)) || exit 1; \
	done

integrations-test: integrations $(STAMP)
	@for name in $(INTEGRATIONS); do \
		dir=integrations/$$name; \
		[ -f $$dir/pyproject.toml ] || continue; \
		echo "$$dir: ruff, pytest"; \
		(cd $$dir && .venv/bin/ruff check . && .venv/bin/python -m pytest -q) || exit 1; \
	done

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_animate.py

strip: $(STAMP)
	$(VENV)/bin/python scripts/make_readme_strip.py

clean:
	rm -rf $(VENV) .tools out $(addsuffix /.venv,$(addprefix integrations/,$(INTEGRATIONS)))

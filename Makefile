# Two commands for a newcomer: `make demo` and `make test` (README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench locust clean

$(BIN)/ssai-proxy: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

install: $(BIN)/ssai-proxy

demo: install
	$(BIN)/ssai-proxy demo $(ARGS)

lint: install
	$(BIN)/ruff format --check proxy tests bench
	$(BIN)/ruff check proxy tests bench
	$(BIN)/mypy

# pytest-xdist: most tests wait on live timelines (not on the CPU), so 4 workers beat 2 on a 2-core machine.
test: install lint
	$(BIN)/pytest -q -n 4

bench: install
	$(BIN)/python -m bench.hotpath
	$(BIN)/python -m bench.http_ratio

# Players as locust users against a running proxy (bench/locustfile.py): `make locust ARGS="-u 2000 -t 2m"`.
HOST ?= http://127.0.0.1:8080
locust: install
	$(BIN)/locust -f bench/locustfile.py --headless --host $(HOST) $(ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Shortcuts for developers; ./setup.sh does the real work and needs nothing but bash and apt.
.PHONY: setup demo test fast lint template catalogs bench clean

setup:
	./setup.sh

demo:
	./setup.sh demo

test:
	./setup.sh test

fast:  ## tests that need no LibreOffice
	.venv/bin/pytest -m "not libreoffice"

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy

template:  ## rebuild the built-in template from templates/build.py
	.venv/bin/python templates/build.py

bench:
	.venv/bin/python benchmarks/merge_docx.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache

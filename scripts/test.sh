#!/bin/sh
# Install what meshperf needs, then run its checks and its whole test suite (as root:
# the lab and SSH tests make network namespaces).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --check .; exit 1; }
.venv/bin/mypy
.venv/bin/python -m pytest "$@"

#!/bin/sh
# Install what meshperf needs, then run its checks and its whole test suite (as root:
# the lab and SSH tests make network namespaces).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check . >/dev/null || { .venv/bin/ruff format --check .; exit 1; }
.venv/bin/mypy
# The live tier (tests/live, tests/localcluster: a real cluster and the real Pulumi CLI) runs when the tools are built.
sh scripts/live-tools.sh --check >/dev/null 2>&1 ||
    echo "test.sh: live tier skipped: its tools are not built (build them once: sh scripts/live-tools.sh, about 1.5 h)"
.venv/bin/python -m pytest "$@"

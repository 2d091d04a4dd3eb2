#!/usr/bin/env bash
# Set up the CPU build of vLLM plus the test tools (first run only), lint the code (ruff), type-check demo/ (mypy),
# and run every test: unit, engine (the real vLLM server and video worker on a tiny checkpoint) and browser (headless
# Chromium).
#   scripts/test.sh                # everything
#   scripts/test.sh tests/unit     # extra arguments go to pytest
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=$SECONDS
bash "$root/scripts/setup_env.sh" cpu --test
# pytest prints it with each layer's time at the end (tests/conftest.py, "time by layer")
export TEST_SETUP_S=$((SECONDS - started))
cd "$root"
out="${TEST_OUTPUT_DIR:-$root/test-output}"
mkdir -p "$out"
export TEST_OUTPUT_DIR="$out"
# The linter first (pyproject.toml: lint and import order), in a second, before any engine starts.
.venv/bin/ruff check --quiet . || { echo "test.sh: ruff found the problems above (.venv/bin/ruff check --fix . mends most)" >&2; exit 1; }
# Then the type checker on demo/ (pyproject.toml, [tool.mypy]), in seconds with its cache (.mypy_cache).
.venv/bin/mypy || { echo "test.sh: mypy found the type errors above in demo/" >&2; exit 1; }
set +e
.venv/bin/python -m pytest "${@:-tests}"
status=$?
set -e
# pytest's 5 means "no tests ran": that is a failure of this command, never a pass.
[ "$status" = 5 ] && { echo "test.sh: no tests ran" >&2; exit 1; }
exit "$status"

#!/usr/bin/env bash
# The forward look: the unit and engine tests on the newest versions that requirements/*.in allow today, resolved
# now in a separate environment (.venv-newest, made anew each run), so that a release that breaks the app is seen
# here before a lock refresh (or a user who installs by hand) meets it. Not part of .ci/run: what it resolves
# changes from day to day. Run it weekly and before scripts/lock.sh --upgrade (docs/install.md, "Locked sets").
#   scripts/forward_look.sh                 # unit and engine tests
#   scripts/forward_look.sh tests/unit      # extra arguments go to pytest instead
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${VENV:-.venv-newest}"
rm -rf "$venv"
VENV="$venv" bash scripts/setup_env.sh cpu --test --newest

# What today's newest differs in from the locked test set: a line per package at another version, then the ones
# the lock does not hold at all.
echo "forward look: today's versions against requirements-test.txt"
new="$("$venv/bin/python" -m demo.lockfile requirements-test.txt --keep torch 2>&1 >/dev/null | sed 's/^setup: /  /' || true)"
added="$("$venv/bin/python" -m demo.lockfile requirements-test.txt --keep torch 2>/dev/null || true)"
echo "${new:-  every locked package at its locked version}"
[ -n "$added" ] && echo "  not in the lock: $added"

out="${TEST_OUTPUT_DIR:-$root/test-output}/forward-look"
mkdir -p "$out"
[ $# -gt 0 ] || set -- tests/unit tests/engine
set +e
TEST_OUTPUT_DIR="$out" "$venv/bin/python" -m pytest "$@"
status=$?
set -e
[ "$status" = 5 ] && { echo "forward look: no tests ran" >&2; exit 1; }
echo "forward look: pytest exit $status on today's newest versions (the locked sets are unchanged)"
exit "$status"

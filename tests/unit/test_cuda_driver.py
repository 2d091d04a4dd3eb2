"""demo/cuda_driver.py: the set-up's check that the NVIDIA driver can run vLLM's CUDA 13 build."""

from __future__ import annotations

import subprocess
from pathlib import Path

from demo.cuda_driver import driver_cuda, verdict

ROOT = Path(__file__).resolve().parents[2]


def smi(driver: str, cuda: str) -> str:
    """nvidia-smi's header as drivers of these versions print it (the rest of the table does not matter)."""
    return ("+-----------------------------------------------------------------------------------------+\n"
            f"| NVIDIA-SMI {driver:<24}Driver Version: {driver:<15}CUDA Version: {cuda:<9}|\n"
            "|-----------------------------------------+------------------------+----------------------+\n")


H200 = (ROOT / "tests" / "unit" / "data" / "nvidia-smi-h200.txt").read_text()  # recorded there (bench/RESULTS-gpu.md)
OLD_CLOUD = smi("535.183.01", "12.2")
RECENT_12 = smi("570.133.20", "12.8")


def test_reads_the_drivers_cuda_version():
    assert driver_cuda(H200) == (13, 0)
    assert driver_cuda(OLD_CLOUD) == (12, 2)
    assert driver_cuda(smi("590.48.01", "13.1")) == (13, 1)
    assert driver_cuda("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.") is None


def test_a_580_driver_installs_the_cuda_13_build():
    ok, sentence = verdict(H200)
    assert ok and "13.0" in sentence


def test_an_older_driver_stops_with_what_to_do():
    for text, have, driver in ((OLD_CLOUD, "12.2", "535"), (RECENT_12, "12.8", "570")):
        ok, sentence = verdict(text)
        assert not ok
        assert f"CUDA up to {have}" in sentence and f"driver {driver}" in sentence
        assert "580" in sentence  # what the default build needs
        assert "+cu129" in sentence and "download.pytorch.org/whl/cu129" in sentence  # the other way


def test_unreadable_output_goes_ahead_with_a_warning():
    ok, sentence = verdict("")
    assert ok and "could not read" in sentence


def test_runs_as_a_plain_script_without_the_environment(tmp_path):
    """setup_env.sh runs it with the system's Python before .venv exists: no import of the project's packages.
    With no nvidia-smi on the PATH (an image built without a GPU) it says so and lets the set-up go on."""
    import sys

    proc = subprocess.run([sys.executable, "-I", str(ROOT / "demo" / "cuda_driver.py")], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(tmp_path)})  # an empty folder: no nvidia-smi
    assert proc.returncode == 0, proc.stderr
    assert "no nvidia-smi" in proc.stderr and "580" in proc.stderr and "Traceback" not in proc.stderr

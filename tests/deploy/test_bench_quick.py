"""The benchmark harness runs end to end on its tiny setting (``python -m bench --quick``) and writes a report
with the seven figures. It checks that figures are there, never that a goal is met: benchmarks are not tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.waits import ENGINE_WAIT_S

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("## 1. Streaming overhead", "## 2. Concurrency", "## 3. Video preparation", "## 4. Image preparation",
            "## 5. Start-up", "## 6. Capacity at a GPU's token rate", "## 7. Stop latency")
NUMBER = re.compile(r"\d+(\.\d+)? ?(ms|s|req/s|GiB|MB)\b|×\d|\d+(\.\d+)?x\b")


def test_bench_quick_writes_every_figure(tmp_path, output_dir):
    out = tmp_path / "RESULTS.md"
    log = output_dir / "bench-quick.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=ROOT,
                                stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=2 * ENGINE_WAIT_S)  # one server start and four small figures
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # the harness stops its engines on SIGTERM
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pass
            code = None
        finally:
            left = _groups_alive(tmp_path)
            for pgid in [proc.pid, *left]:  # the harness stops what it starts; anything left ends here
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
    text = out.read_text() if out.exists() else ""
    assert out.exists(), f"no report; exit {code}; log:\n{log.read_text()[-4000:]}"
    assert "--quick" in text and str(ROOT / "bench" / "RESULTS.md") != str(out)
    for heading in SECTIONS:
        assert heading in text, f"missing {heading!r}"
        body = text.split(heading, 1)[1].split("\n## ", 1)[0]
        assert "Not measured" not in body, f"{heading} was not measured:\n{body}"
        assert NUMBER.search(body), f"{heading} has no figure:\n{body}"
    assert "**Errors in this run:**" not in text, text.split("**Errors in this run:**", 1)[1][:2000]
    assert code == 0, f"exit {code}; log:\n{log.read_text()[-4000:]}"
    assert not left, f"process groups the harness started were still running after it ended: {left}"


def _groups_alive(tmp_path: Path) -> list[int]:
    """Process groups the harness listed (every engine, app and reader it started) that still exist."""
    listed = tmp_path / "RESULTS-output" / "process-groups.txt"
    alive = []
    for line in (listed.read_text().split() if listed.exists() else []):
        try:
            os.killpg(int(line), 0)
            alive.append(int(line))
        except (ProcessLookupError, ValueError):
            pass
        except PermissionError:
            alive.append(int(line))
    return alive

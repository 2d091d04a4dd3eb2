"""What an engine is doing while it starts, read from its own log, and how long its last start took here.

A start on a 2-core machine without a GPU takes about a minute, a cold one on a GPU several; the page shows the
phase and the last start's duration so a person knows how long to wait (issue 17). The phases are vLLM 0.32's
own log lines, in start order (the same milestones bench/startup.py times); a later phase never goes back.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

FIRST_PHASE = "importing vLLM"
PHASES = (  # (first log line of the phase, the phase as a visitor reads it)
    (re.compile(r"non-default args|version \d+\.\d+"), "reading the model's configuration"),
    (re.compile(r"Multi-modal warmup completed|Initializing a V1 LLM engine"), "starting the engine process"),
    (re.compile(r"Starting to load model"), "loading the weights"),
    (re.compile(r"Loading weights took|Model loading took"), "measuring memory"),
    # vLLM 0.32: compilation/monitor.py (GPUs), cpu_model_runner.py (CPU), decorators.py and backends.py (cache)
    (re.compile(r"Starting torch\.compile|Warming up model for the compilation|Directly load (AOT|the compiled)"),
     "compiling the model"),
    (re.compile(r"Capturing CUDA graph"), "capturing CUDA graphs"),  # gpu_model_runner.py's progress bar
    (re.compile(r"init engine \(profile, create kv cache"), "finishing start-up"),
)
_READ_LIMIT = 1 << 20  # bytes read per poll: start-up logs are small, a runaway one must not stall the monitor


class PhaseReader:
    """Follows one start's part of a log file (from where the file ends now) and names its latest phase."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._offset = self.path.stat().st_size
        except OSError:
            self._offset = 0
        self._rest = b""
        self._index = -1

    @property
    def phase(self) -> str:
        return FIRST_PHASE if self._index < 0 else PHASES[self._index][1]

    def poll(self) -> str:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(_READ_LIMIT)
        except OSError:
            data = b""
        self._offset += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        self._rest = self._rest[-4096:]  # a line without an end (a progress bar) cannot grow without bound
        for raw in lines:
            self.feed(raw.decode("utf-8", "replace"))
        return self.phase

    def feed(self, line: str) -> None:
        for i in range(len(PHASES) - 1, self._index, -1):
            if PHASES[i][0].search(line):
                self._index = i
                return


class StartTimes:
    """Seconds each engine's last successful start took, kept in one small JSON file beside the logs.

    Keyed by engine, model and placement: a 4B start on a GPU says nothing about a tiny one on the CPU.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def get(self, key: str) -> float | None:
        return self.all().get(key)

    def all(self) -> dict[str, float]:
        """Every key's last start, in seconds (a damaged file or entry counts as none)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        out = {}
        for key, entry in (data.items() if isinstance(data, dict) else ()):
            try:
                seconds = float(entry["seconds"])
            except (TypeError, KeyError, ValueError):
                continue
            if 0 < seconds < 1e6:
                out[key] = seconds
        return out

    def put(self, key: str, seconds: float) -> None:
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = {"seconds": round(seconds, 1), "at": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)  # two apps at once: each write is whole, the last one wins
        except OSError:
            pass  # a read-only cache: the page just shows no estimate

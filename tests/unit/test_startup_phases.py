"""demo/engines/startup.py: the start-up phase read from an engine's log, and the last start's duration."""

from __future__ import annotations

import json

from demo.engines.startup import FIRST_PHASE, PhaseReader, StartTimes
from demo.engines.status import StatusCell

# Lines of a real start (vLLM 0.32, CPU build, the tiny checkpoint; paths shortened), in the order they came.
LOG = [
    "Triton is installed, but doesn't include CPU backend. Disabling Triton.",
    "(APIServer pid=12414) INFO 12-03 09:30:32 [api_utils.py:347]  ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0.32.0",
    "(APIServer pid=12414) INFO 12-03 09:30:32 [api_utils.py:286] non-default args: {'model': '/home/u/.cache/x'}",
    "(APIServer pid=12414) INFO 12-03 09:30:35 [base.py:280] Multi-modal warmup completed in 2.462s",
    "(EngineCore pid=12458) INFO 12-03 09:30:45 [core.py:133] Initializing a V1 LLM engine (v0.32.0) with config",
    "(Worker pid=12495) INFO 12-03 09:31:07 [cpu_model_runner.py:68] Starting to load model /home/u/.cache/x...",
    "(Worker pid=12495) INFO 12-03 09:31:08 [default_loader.py:501] Loading weights took 0.01 seconds",
    "(EngineCore pid=12458) INFO 12-03 09:31:09 [core.py:402] init engine (profile, create kv cache, warmup model) "
    "took 0.64 s",
    # a line of an earlier phase after a later one must not move the phase back
    "(APIServer pid=12414) INFO 12-03 09:31:10 [api_utils.py:286] non-default args: {}",
]
EXPECTED = [FIRST_PHASE, "reading the model's configuration", "reading the model's configuration",
            "starting the engine process", "starting the engine process", "loading the weights", "measuring memory",
            "finishing start-up", "finishing start-up"]


def test_the_phase_follows_the_log_and_never_goes_back(tmp_path):
    log = tmp_path / "vllm-server.log"
    log.write_text("===== an earlier start\n(Worker pid=1) INFO Loading weights took 3 seconds\n")
    reader = PhaseReader(log)  # from where the file ends now: the earlier start does not count
    assert reader.poll() == FIRST_PHASE
    seen = []
    for line in LOG:
        with open(log, "a") as fh:
            fh.write(line + "\n")
        seen.append(reader.poll())
    assert seen == EXPECTED


def test_a_line_written_in_two_pieces_is_read_once_whole(tmp_path):
    log = tmp_path / "w.log"
    log.write_text("")
    reader = PhaseReader(log)
    with open(log, "a") as fh:
        fh.write("(Worker pid=1) INFO Starting to lo")
    assert reader.poll() == FIRST_PHASE
    with open(log, "a") as fh:
        fh.write("ad model /x\n")
    assert reader.poll() == "loading the weights"


def test_compiling_and_graph_capture_are_named_on_gpus(tmp_path):
    log = tmp_path / "g.log"
    log.write_text("")
    reader = PhaseReader(log)
    with open(log, "a") as fh:
        fh.write("(EngineCore pid=9) INFO 12-03 09:31:08 [monitor.py:40] Starting torch.compile\n")
    assert reader.poll() == "compiling the model"
    with open(log, "a") as fh:
        fh.write("Capturing CUDA graphs (mixed prefill-decode, PIECEWISE): 100%\n")
    assert reader.poll() == "capturing CUDA graphs"


def test_a_missing_log_is_the_first_phase(tmp_path):
    assert PhaseReader(tmp_path / "none.log").poll() == FIRST_PHASE


def test_start_times_are_kept_per_key_and_survive_a_bad_file(tmp_path):
    path = tmp_path / "logs" / "start-times.json"
    times = StartTimes(path)
    assert times.get("server · tiny · CPU") is None
    times.put("server · tiny · CPU", 35.24)
    times.put("video worker · tiny · CPU", 33.0)
    assert StartTimes(path).get("server · tiny · CPU") == 35.2
    assert StartTimes(path).get("video worker · tiny · CPU") == 33.0
    assert StartTimes(path).get("server · 4B · GPU 0") is None
    path.write_text("{not json")
    assert times.get("server · tiny · CPU") is None
    times.put("server · tiny · CPU", 40.0)  # a damaged file is replaced, not a failure
    assert json.loads(path.read_text())["server · tiny · CPU"]["seconds"] == 40.0


def test_the_status_line_says_how_long_the_last_start_took():
    cell = StatusCell("server")
    cell.set("starting", "loading the weights")
    assert "last start" not in cell.get().describe()
    cell.set_last_start(35.2)
    line = cell.get().describe()
    assert line.startswith("server: starting (") and "the last start here took 35 s" in line
    assert line.endswith(" - loading the weights")
    cell.set("error", "the server exited with code 1 while starting", hint="its log (/home/u/x.log) ends with: ...")
    assert "/home/u" not in cell.get().describe()  # the hint is for the terminal, never for the page

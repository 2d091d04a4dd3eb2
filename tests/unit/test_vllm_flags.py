"""demo/engines/vllm_flags.py: the server's optional flags, kept only where the installed vLLM has them."""

from __future__ import annotations

import sys
from pathlib import Path

from demo.engines.placement import Placement
from demo.engines.server import server_command
from demo.engines.vllm_flags import OPTIONAL, keep_accepted, missing, parse_help, server_flags
from demo.settings import Settings

DATA = Path(__file__).parent / "data"
# What an older vLLM (0.26's CUDA build refused --trust-request-mm-kwargs, shared/GPU_TESTBED.md) accepts,
# for the pure tests: the required flags and none of the optional ones.
OLD = frozenset({"--model", "--port", "--host", "--gpu-memory-utilization", "--served-model-name",
                 "--max-model-len", "--tensor-parallel-size", "--trust-remote-code", "--enforce-eager"})


def command(accepted, kv_bytes=None):
    placement = Placement("cuda", (0,), 1, 0.5, kv_cache_bytes=kv_bytes)
    return server_command(Settings(), "/models/qwen", placement, 8085, accepted)


def test_an_older_vllm_gets_the_command_without_the_flags_it_lacks():
    cmd = command(OLD, kv_bytes=5 * 1024**3)
    assert not any(a.split("=")[0] in OPTIONAL for a in cmd)
    assert "none.invalid" not in cmd and str(5 * 1024**3) not in cmd  # their values went with them
    assert cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.5"
    assert cmd[cmd.index("--port") + 1] == "8085"
    assert set(missing(OLD)) == {f"this vLLM has no {f}: {why}" for f, why in OPTIONAL.items()}


def test_a_vllm_that_has_every_flag_or_cannot_say_gets_the_whole_command():
    full = command(None, kv_bytes=123)
    assert full[full.index("--kv-cache-memory-bytes") + 1] == "123"
    assert "--trust-request-mm-kwargs" in full
    assert full[full.index("--allowed-media-domains") + 1] == "none.invalid"
    assert command(OLD | set(OPTIONAL), kv_bytes=123) == full
    assert missing(None) == [] and missing(OLD | set(OPTIONAL)) == []


def test_keep_accepted_drops_a_flag_given_with_equals_and_keeps_the_next_flag():
    cmd, notes = keep_accepted(["x", "--kv-cache-memory-bytes=5", "--trust-request-mm-kwargs", "--port", "1"], OLD)
    assert cmd == ["x", "--port", "1"]
    assert len(notes) == 2


def test_parse_help_needs_the_server_flags():
    assert parse_help("usage: foo [-h] [--verbose]") is None
    text = "  --model MODEL\n  --port PORT\n  --gpu-memory-utilization GPU_MEMORY_UTILIZATION, -gmu ...\n"
    assert parse_help(text) == {"--model", "--port", "--gpu-memory-utilization"}


def test_the_installed_vllm_says_it_has_every_flag_the_command_uses(tmp_path):
    """Asked of the real vLLM in this environment (the pinned 0.32 CPU build), and then read from the cache."""
    flags = server_flags(tmp_path, python=sys.executable)
    assert flags is not None
    assert set(OPTIONAL) <= flags
    assert {"--served-model-name", "--max-model-len", "--tensor-parallel-size", "--trust-remote-code"} <= flags
    cached = list(tmp_path.glob("vllm-flags-*.json"))
    assert len(cached) == 1
    assert server_flags(tmp_path, python="/nonexistent/python") == flags  # the cache answers, no vLLM run
    assert all(a.split("=")[0] in flags for a in command(flags, kv_bytes=1) if a.startswith("--"))


def test_vllm_0_26_as_recorded_on_the_h200_gets_every_flag_but_the_one_it_lacks():
    """The flag lines of vLLM 0.26.0's ``--help=all`` (CUDA build, recorded on the H200 of bench/RESULTS-gpu.md)."""
    flags = parse_help((DATA / "vllm-0.26.0-help-all-flags.txt").read_text())
    assert flags is not None and len(flags) > 150
    cmd = command(flags, kv_bytes=1024)
    assert "--trust-request-mm-kwargs" not in cmd  # 0.26 refuses it: the server would not start
    assert cmd[cmd.index("--kv-cache-memory-bytes") + 1] == "1024"  # 0.26 has it: the engines start together
    assert cmd[cmd.index("--allowed-media-domains") + 1] == "none.invalid"
    assert missing(flags) == [f"this vLLM has no --trust-request-mm-kwargs: {OPTIONAL['--trust-request-mm-kwargs']}"]
    assert all(a in flags for a in cmd if a.startswith("--"))

"""demo/engines/supervisor.py: ``clean_log_line``, the start-up progress shown from an engine's last log line."""

from __future__ import annotations

import pytest

from demo.engines.supervisor import clean_log_line


@pytest.mark.parametrize("line,expected", [
    ("(Worker pid=7924) WARNING 11-25 04:51:47 [cpu_worker.py:140] CPU backend x", "CPU backend x"),
    ("(EngineCore pid=1) INFO 11-25 04:26:44 [core.py:133] Loading x", "Loading x"),
    ("(APIServer pid=42) INFO 11-25 04:26:44 [api_server.py:1] Starting vLLM API server on http://0.0.0.0:8000",
     "Starting vLLM API server on http://0.0.0.0:8000"),
    ("(EngineCore_DP0 pid=7) ERROR 01-02 03:04:05 [core.py:700] EngineCore failed to start.",
     "EngineCore failed to start."),
    ("INFO 11-25 04:26:44 [loader.py:12] Loading weights took 1.2 seconds", "Loading weights took 1.2 seconds"),
    ("DEBUG 11-25 04:26:44 [x.py:1] detail\n", "detail"),
    ("(Worker pid=7924) plain text from a worker", "plain text from a worker"),
])
def test_prefixes_are_removed(line, expected):
    assert clean_log_line(line) == expected


@pytest.mark.parametrize("line", [
    "Loading safetensors checkpoint shards: 50% Completed | 1/2",
    "Traceback (most recent call last):",
    "",
    "INFO: 127.0.0.1:5000 - \"GET /health HTTP/1.1\" 200 OK",
])
def test_plain_lines_are_unchanged(line):
    assert clean_log_line(line) == line


def test_surrounding_whitespace_is_stripped():
    assert clean_log_line("   indented line  \n") == "indented line"


def test_long_lines_are_shortened_with_an_ellipsis():
    long = "x" * 500
    out = clean_log_line(long)
    assert len(out) == 120
    assert out == "x" * 119 + "…"
    assert clean_log_line(long, limit=40) == "x" * 39 + "…"
    exact = "y" * 120
    assert clean_log_line(exact) == exact  # at the limit: kept whole


def test_the_limit_applies_after_the_prefix_is_removed():
    body = "z" * 110
    line = "(EngineCore pid=1) INFO 11-25 04:26:44 [core.py:133] " + body
    assert len(line) > 120
    assert clean_log_line(line) == body
    shortened = clean_log_line("(EngineCore pid=1) INFO 11-25 04:26:44 [core.py:133] " + "w" * 300, limit=50)
    assert shortened == "w" * 49 + "…"

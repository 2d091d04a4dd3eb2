"""bench/gpu.py's pure parts: vLLM's memory log lines and the report (the run itself needs a CUDA GPU)."""

from __future__ import annotations

from bench.gpu import parse_memory, per_stream_rate, render

# Lines as vLLM 0.32's source formats them (gpu_model_runner.py, gpu_worker.py, kv_cache_utils.py,
# mem_utils.py, engine/core.py); an engine's log holds a start's lines, and a restart's after them.
LOG = """
(EngineCore pid=1) INFO 12-02 10:00:01 [gpu_model_runner.py:5150] Model loading took 8.69 GiB memory and 3.1 seconds
(EngineCore pid=1) INFO 12-02 10:00:30 [gpu_worker.py:300] Memory profiling takes 9.12 seconds. Total non KV cache memory: 10.1GiB; torch peak memory increase: 1.20GiB; total consumed (from mem_get_info): 10.1GiB; weights memory: 8.69GiB.
(EngineCore pid=1) INFO 12-02 10:00:30 [gpu_worker.py:760] Available KV cache memory: 7.43 GiB
(EngineCore pid=1) INFO 12-02 10:00:31 [kv_cache_utils.py:2328] GPU KV cache size: 54,080 tokens, Maximum concurrency for 8,192 tokens per request: 6.60x
(EngineCore pid=1) INFO 12-02 10:00:40 [gpu_model_runner.py:6582] Graph capturing finished in 9 secs, took 1.01 GiB
(EngineCore pid=1) INFO 12-02 10:00:41 [core.py:396] init engine (profile, create kv cache, warmup model) took 61.20 s (compilation: 52.00 s)
"""


def test_parse_memory_reads_vllms_lines():
    m = parse_memory(LOG)
    assert m == {"weights_gib": 8.69, "kv_cache_gib": 7.43, "kv_tokens": 54080, "cuda_graphs_gib": 1.01,
                 "torch_peak_gib": 1.2, "init_engine_s": 61.2, "compile_s": 52.0}


def test_parse_memory_takes_the_last_start_and_an_explicit_kv_size():
    restart = LOG + ("INFO Model loading took 8.80 GiB memory and 2.0 seconds\n"
                     "INFO Initial free memory 120.1 GiB, reserved 1.40 GiB memory for KV Cache as specified by "
                     "kv_cache_memory_bytes config and skipped memory profiling.\n")
    m = parse_memory(restart)
    assert m["weights_gib"] == 8.8 and m["kv_cache_gib"] == 1.4
    assert parse_memory("nothing here") == {}


def test_per_stream_rate():
    assert per_stream_rate({"ttft": 1.0, "total": 3.0, "tokens": 201}) == 100.0
    assert per_stream_rate({"ttft": None, "total": 3.0, "tokens": 201}) is None
    assert per_stream_rate({"ttft": 1.0, "total": 1.0, "tokens": 5}) is None


def test_render_has_every_section():
    level = {"users": 1, "ttft_p50": 0.04, "ttft_p95": 0.05, "tok_s_p50": 246.0, "aggregate_tok_s": 240.0,
             "tokens": 256, "prompt": 20, "wall": 1.1}
    res = {"machine": "NVIDIA H200", "vllm": "vllm==0.26.0", "model": "/root/ckpt", "command": "python -m bench.gpu",
           "date": "2026-12-02", "max_tokens": 256,
           "startup": {"cold": {"ready_s": {"server": 100.0, "video worker": 95.0}, "plan": "server: GPU 0",
                                "notes": ["one 140 GiB card shared"], "nvidia_smi_gib": {"server": 110.0},
                                "log_memory": {"vllm-server": parse_memory(LOG)}}},
           "workloads": {"chat": [{"path": "app", **level}, {"path": "direct", **level}]},
           "video": {"worker": {"frames": 16, "prompt_tokens": 900, "ttft_s": None, "total_s": 3.0,
                                "generate_s": 1.0, "completion_tokens": 256, "finish": "length"}}}
    text = render(res)
    assert "| cold | server: GPU 0 | 100 s | 95 s | 5 % of the slower |" in text
    assert "| server | 8.69 | 7.43 | 54080 | 1.01 | 1.20 | 61 s (52 s) | 110.00 |" in text
    assert "| 1 | app | 40 ms | 50 ms | 40 ms | 246 | 240 |" in text
    assert "| worker | 16 | 900 | – | 3.00 s | 1.00 s | 256 |" in text
    assert "plan note: one 140 GiB card shared" in text

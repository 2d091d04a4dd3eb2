"""``python -m demo.plan``: the plan and each engine's memory for given cards, and warnings when it won't fit."""

from __future__ import annotations

import pytest

from demo.engines.placement import QWEN3_VL_4B, Gpu, ModelFootprint, Placement
from demo.plan import estimate, main, warnings_for


def test_estimate_splits_a_gpu_share_into_weights_overhead_and_kv():
    e = estimate(Placement("cuda", (0,), 1, 0.5), "server", QWEN3_VL_4B, [Gpu(0, "x", 40.0)], 8192)
    assert e.given_gib == pytest.approx(20.0)
    assert e.kv_gib == pytest.approx(20.0 - QWEN3_VL_4B.weights_gib - e.overhead_gib)
    assert e.kv_tokens == int(e.kv_gib * 1024**3 / QWEN3_VL_4B.kv_bytes_per_token)
    assert e.fits and e.full_requests > 1


def test_estimate_on_cpu_uses_the_kv_cache_setting():
    fp = ModelFootprint(weights_gib=1.0, kv_bytes_per_token=1024)
    e = estimate(Placement("cpu", cpu_kv_cache_gib=2), "worker", fp, [], 4096)
    assert e.kv_gib == 2.0 and e.kv_tokens == 2 * 1024**2


def test_a_share_too_small_for_one_request_is_a_warning():
    e = estimate(Placement("cuda", (0,), 1, 0.5), "video worker", QWEN3_VL_4B, [Gpu(0, "x", 24.0)], 8192)
    assert not e.fits
    (w,) = warnings_for(None, [e], [Gpu(0, "x", 24.0)], None)
    assert "video worker will not fit" in w and "8192" in w


def test_fractions_over_one_card_are_a_warning():
    gpus = [Gpu(0, "x", 80.0)]
    ests = [estimate(Placement("cuda", (0,), 1, f), n, QWEN3_VL_4B, gpus, 8192)
            for n, f in (("server", 0.9), ("video worker", 0.5))]
    assert any("add up to 1.40" in w for w in warnings_for(None, ests, gpus, None))


def test_cpu_engines_larger_than_ram_are_a_warning():
    ests = [estimate(Placement("cpu", cpu_kv_cache_gib=16), n, QWEN3_VL_4B, [], 8192) for n in ("a", "b")]
    assert any("RAM" in w for w in warnings_for(None, ests, [], 24.0))
    assert warnings_for(None, ests, [], 512.0) == []


@pytest.mark.parametrize("gpus,expect", [
    ("24", "video: through the server"),
    ("32", "start together"),
    ("80,80", "video worker: GPU 1"),
])
def test_main_prints_the_plan_for_given_cards(gpus, expect, capsys):
    assert main(["--gpus", gpus]) == 0
    out = capsys.readouterr().out
    assert expect in out and "It fits." in out and "frames at 640x352" in out


def test_main_warns_with_exit_code_2_when_it_will_not_fit(capsys):
    assert main(["--gpus", "16", "--video-via", "server", "--max-model-len", "32768"]) == 2
    assert "WARNING: the server will not fit" in capsys.readouterr().out


def test_main_reports_a_plan_that_refuses(capsys):
    assert main(["--gpus", "16", "--video-via", "worker"]) == 1
    assert "use --video-via server" in capsys.readouterr().err


def test_main_rejects_bad_gpu_sizes():
    with pytest.raises(SystemExit):
        main(["--gpus", "big"])


def test_the_docs_memory_table_is_the_one_the_measured_figures_give():
    """docs/device-plan.md's one-card table is printed from demo/engines/placement.py's measured figures: regenerate
    it with `python -m demo.plan --readme-table` when they change."""
    from pathlib import Path

    from demo.plan import memory_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "device-plan.md").read_text()
    start = doc.index("<!-- memory-table: python -m demo.plan --readme-table -->\n")
    block = doc[start:doc.index("<!-- /memory-table -->")].split("\n", 1)[1].strip()
    assert block == memory_table()

"""demo/engines/placement.py: where the server and the video worker run, for every kind of machine."""

from __future__ import annotations

import dataclasses
import json

import pytest

from demo.engines.model_card import footprint_of_dir
from demo.engines.placement import (
    CUDA_CONTEXT_GIB,
    ENGINE_OVERHEAD_GIB,
    GIB,
    QWEN3_VL_4B,
    SHARED_CARD_BUDGET,
    DevicePlan,
    Gpu,
    ModelFootprint,
    Placement,
    PlanInputs,
    _tp_for,
    fit_to_free,
    parse_nvidia_smi,
    plan_devices,
    visible,
)
from demo.settings import Settings

DEFAULTS = Settings()


def plan(gpus, footprint=QWEN3_VL_4B, **overrides) -> DevicePlan:
    """The plan for these cards with the default settings, some of the plan's inputs changed."""
    return plan_devices(gpus, footprint, dataclasses.replace(PlanInputs.from_settings(DEFAULTS), **overrides))


def cards(*sizes_gib: float) -> list[Gpu]:
    return [Gpu(i, f"card {i}", size) for i, size in enumerate(sizes_gib)]


# --- no GPU -------------------------------------------------------------------------------------------------

def test_no_gpu_puts_both_engines_on_the_cpu():
    p = plan([], cpu_kv_cache_gib=6)
    assert p.server == Placement("cpu", cpu_kv_cache_gib=6, enforce_eager=True)
    assert p.worker == Placement("cpu", cpu_kv_cache_gib=6, enforce_eager=True)
    assert p.video_via == "worker"
    assert p.sequential_start is True  # server first: two starts on a few cores slow each other (issue 17)
    assert p.server.env() == {"VLLM_CPU_KVCACHE_SPACE": "6", "CUDA_VISIBLE_DEVICES": ""}
    assert p.worker.env() == {"VLLM_CPU_KVCACHE_SPACE": "6", "CUDA_VISIBLE_DEVICES": ""}
    text = p.describe()
    assert "server: CPU, KV cache 6 GiB, eager" in text
    assert "video worker: CPU, KV cache 6 GiB, eager" in text
    assert "started one after the other" in text


def test_the_engines_start_order_can_be_chosen():
    assert plan([], engine_start="together").sequential_start is False
    assert plan([], engine_start="server-first").sequential_start is True
    # GPUs: together unless asked, or unless a shared card without an explicit KV-cache size needs the order
    assert plan(cards(80, 80)).sequential_start is False
    assert plan(cards(80, 80), engine_start="server-first").sequential_start is True
    assert plan(cards(141), explicit_kv=False, engine_start="together").sequential_start is True
    # nothing to order without a worker, or with an attached server
    assert plan([], video_via="server").sequential_start is False
    assert plan([], attached=True, engine_start="server-first").sequential_start is False


@pytest.mark.parametrize("gpus", [[], cards(80), cards(80, 80), cards(32)])
def test_eager_by_default_only_on_the_cpu_build(gpus):
    """The CPU build compiles again at every start (minutes); GPUs keep the seed's enforce_eager=False."""
    p = plan(gpus)
    engines = [e for e in (p.server, p.worker) if e is not None]
    assert engines and all(e.enforce_eager is (not gpus) for e in engines)
    forced = plan(gpus, enforce_eager=True)
    assert all(e.enforce_eager for e in (forced.server, forced.worker) if e is not None)
    compiled = plan(gpus, enforce_eager=False)
    assert not any(e.enforce_eager for e in (compiled.server, compiled.worker) if e is not None)


def test_no_gpu_video_via_server_has_no_worker():
    p = plan([], video_via="server")
    assert p.server is not None and p.server.device == "cpu"
    assert p.worker is None
    assert p.video_via == "server"


def test_attached_without_gpu_launches_nothing_when_auto():
    p = plan([], attached=True, video_via="auto")
    assert p.server is None
    assert p.worker is None
    assert p.video_via == "server"
    assert "attached (--api-base)" in p.describe()
    assert "through the server" in p.describe()


def test_attached_without_gpu_forced_worker_runs_on_cpu():
    p = plan([], attached=True, video_via="worker")
    assert p.server is None
    assert p.worker is not None and p.worker.device == "cpu"


def test_attached_with_gpus():
    assert plan(cards(80), attached=True).server is None
    assert plan(cards(80), attached=True).worker is None
    p = plan(cards(80, 80, 80), attached=True, video_via="worker")
    assert p.server is None
    assert p.worker == Placement("cuda", (0, 1), 2, DEFAULTS.video_gpu_memory_utilization)


# --- one GPU ------------------------------------------------------------------------------------------------

def test_24_gib_sends_video_through_the_server():
    p = plan(cards(24))
    assert p.server == Placement("cuda", (0,), 1, 0.9)
    assert p.worker is None
    assert p.video_via == "server"
    assert p.sequential_start is False
    note = " ".join(p.notes)
    assert "24 GiB" in note and "through the server" in note
    assert "through the server" in p.describe()
    assert 2 * QWEN3_VL_4B.engine_need_gib(8192) > SHARED_CARD_BUDGET * 24


def test_24_gib_with_forced_worker_raises():
    with pytest.raises(ValueError) as info:
        plan(cards(24), video_via="worker")
    assert "--video-via server" in str(info.value)
    assert "24 GiB" in str(info.value)


@pytest.mark.parametrize("size", [32, 48, 80])
def test_one_big_card_is_shared(size):
    p = plan(cards(size))
    need = QWEN3_VL_4B.engine_need_gib(8192)
    assert p.server.device == p.worker.device == "cuda"
    assert p.server.gpus == p.worker.gpus == (0,)
    assert p.sequential_start is False  # each has its own KV-cache size: they start together
    assert p.video_via == "worker"
    total = p.server.gpu_memory_utilization + p.worker.gpu_memory_utilization
    assert total <= SHARED_CARD_BUDGET + 1e-9
    assert p.worker.gpu_memory_utilization * size >= need
    assert p.server.gpu_memory_utilization * size >= need  # the server also holds one full request
    assert 0 < p.worker.gpu_memory_utilization < p.server.gpu_memory_utilization < 1
    assert p.server.env() == p.worker.env() == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "0"}
    assert "one after the other" not in p.describe()
    assert f"{size} GiB" in " ".join(p.notes) and "start together" in " ".join(p.notes)
    one_request = QWEN3_VL_4B.kv_bytes_per_token * 8192
    assert p.worker.kv_cache_bytes >= one_request and p.server.kv_cache_bytes >= one_request
    for share in (p.server, p.worker):  # weights + overhead + KV cache fit in the engine's share
        used = (QWEN3_VL_4B.weights_gib + ENGINE_OVERHEAD_GIB) * GIB + share.kv_cache_bytes
        assert used <= share.gpu_memory_utilization * size * GIB


def test_one_card_without_explicit_kv_sizes_starts_the_engines_one_after_the_other():
    p = plan(cards(48), explicit_kv=False)
    assert p.sequential_start is True
    assert p.server.kv_cache_bytes is None and p.worker.kv_cache_bytes is None
    assert "one after the other" in p.describe()


@pytest.mark.parametrize("size", [28, 30, 32, 40, 48, 64, 80, 96, 141])
@pytest.mark.parametrize("max_model_len", [4096, 8192, 32768])
def test_shared_card_fractions_hold_one_request_each(size, max_model_len):
    need = QWEN3_VL_4B.engine_need_gib(max_model_len)
    try:
        p = plan(cards(size), max_model_len=max_model_len, video_via="worker")
    except ValueError:
        assert 2 * need > SHARED_CARD_BUDGET * size
        return
    assert 2 * need <= SHARED_CARD_BUDGET * size
    assert p.worker.gpu_memory_utilization * size >= need
    assert p.server.gpu_memory_utilization * size >= need - 0.01 * size
    assert p.worker.gpu_memory_utilization + p.server.gpu_memory_utilization <= SHARED_CARD_BUDGET + 1e-9


def test_one_card_video_via_server_keeps_the_seeds_fraction():
    p = plan(cards(80), video_via="server", gpu_memory_utilization=0.85)
    assert p.server == Placement("cuda", (0,), 1, 0.85)
    assert p.worker is None
    assert p.sequential_start is False
    assert "through the server" in p.describe()


def test_plan_is_pure():
    assert plan(cards(48)) == plan(cards(48))
    assert plan(cards(24, 24, 24, 24)) == plan(cards(24, 24, 24, 24))


# --- several GPUs -------------------------------------------------------------------------------------------

def test_two_gpus_use_the_seeds_values():
    p = plan(cards(24, 24))
    assert p.server == Placement("cuda", (0,), 1, 0.9)
    assert p.worker == Placement("cuda", (1,), 1, 0.99)
    assert p.sequential_start is False
    assert p.server.env() == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "0"}
    assert p.worker.env() == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "1"}
    text = p.describe()
    assert "server: GPU 0, 0.90 of memory" in text
    assert "video worker: GPU 1, 0.99 of memory" in text
    assert "one after the other" not in text


def test_two_gpus_pass_the_settings_fractions_through():
    p = plan(cards(80, 80), gpu_memory_utilization=0.8, video_gpu_memory_utilization=0.95)
    assert p.server.gpu_memory_utilization == 0.8
    assert p.worker.gpu_memory_utilization == 0.95


@pytest.mark.parametrize("n,expected", [
    (1, 1), (2, 2), (3, 2), (4, 4), (5, 4), (6, 4), (7, 4), (8, 8), (9, 8), (16, 8),
])
def test_tp_for_divides_attention_and_kv_heads(n, expected):
    tp = _tp_for(n, QWEN3_VL_4B)
    assert tp == expected
    assert QWEN3_VL_4B.num_attention_heads % tp == 0
    assert QWEN3_VL_4B.num_kv_heads % tp == 0


def test_tp_for_odd_head_counts():
    odd = ModelFootprint(weights_gib=1, kv_bytes_per_token=1, num_kv_heads=3, num_attention_heads=12)
    assert _tp_for(4, odd) == 3
    assert _tp_for(2, odd) == 1


def test_four_gpus_worker_gets_tp_2_over_gpus_1_and_2():
    assert _tp_for(3, QWEN3_VL_4B) == 2
    p = plan(cards(24, 24, 24, 24))
    assert p.server == Placement("cuda", (0,), 1, 0.9)
    assert p.worker == Placement("cuda", (1, 2), 2, 0.99)
    assert p.worker.env() == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "1,2"}
    assert p.sequential_start is False
    assert "video worker: GPU 1,2, TP 2" in p.describe()


def test_video_via_server_on_several_gpus_has_no_worker():
    p = plan(cards(80, 80), video_via="server")
    assert p.server == Placement("cuda", (0,), 1, 0.9)
    assert p.worker is None
    assert p.video_via == "server"


def test_server_tp_2_on_two_gpus_shares_them_with_the_worker():
    p = plan(cards(24, 24), tensor_parallel_size=2)
    need_per_card = (QWEN3_VL_4B.weights_gib + QWEN3_VL_4B.kv_bytes_per_token * 8192 / GIB) / 2 + ENGINE_OVERHEAD_GIB
    assert p.server.gpus == p.worker.gpus == (0, 1)
    assert p.server.tensor_parallel_size == p.worker.tensor_parallel_size == 2
    assert p.sequential_start is False
    assert p.worker.gpu_memory_utilization * 24 >= need_per_card
    assert p.server.gpu_memory_utilization + p.worker.gpu_memory_utilization <= SHARED_CARD_BUDGET + 1e-9
    assert p.server.env() == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "0,1"}


@pytest.mark.parametrize("size", [24, 48, 80])
def test_engines_sharing_cards_under_tensor_parallelism_each_hold_a_request_per_card(size):
    p = plan(cards(size, size), tensor_parallel_size=2)
    one_request_per_card = QWEN3_VL_4B.kv_bytes_per_token * 8192 / 2
    for share in (p.server, p.worker):
        assert share.kv_cache_bytes >= one_request_per_card
        # the slice of the weights, the whole overhead and the KV cache fit in the share of each card
        used = (QWEN3_VL_4B.weights_gib / 2 + ENGINE_OVERHEAD_GIB) * GIB + share.kv_cache_bytes
        assert used <= share.gpu_memory_utilization * size * GIB


def test_server_tp_is_capped_by_the_gpu_count():
    p = plan(cards(80, 80), tensor_parallel_size=4, video_via="server")
    assert p.server.gpus == (0, 1)
    assert p.server.tensor_parallel_size == 2


def test_server_tp_2_on_four_gpus_leaves_two_for_the_worker():
    p = plan(cards(80, 80, 80, 80), tensor_parallel_size=2)
    assert p.server == Placement("cuda", (0, 1), 2, 0.9)
    assert p.worker == Placement("cuda", (2, 3), 2, 0.99)


def test_visible_gpu_indices_are_kept_in_the_placement():
    gpus = visible(cards(80, 80, 80, 80), "2,3")
    p = plan(gpus)
    assert p.server.gpus == (2,)
    assert p.worker.gpus == (3,)


# --- nvidia-smi and CUDA_VISIBLE_DEVICES --------------------------------------------------------------------

SMI = "0, NVIDIA GeForce RTX 5090, 32607\n1, NVIDIA A100-SXM4-80GB, 81920"


def test_parse_nvidia_smi():
    gpus = parse_nvidia_smi(SMI)
    assert gpus == [Gpu(0, "NVIDIA GeForce RTX 5090", 32607 / 1024), Gpu(1, "NVIDIA A100-SXM4-80GB", 80.0)]
    assert parse_nvidia_smi(SMI + "\n\n") == gpus
    assert parse_nvidia_smi("  " + SMI.replace("\n", "\r\n") + "  ") == gpus


@pytest.mark.parametrize("text", [
    "",
    "   \n",
    "No devices were found",
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    "index, name, memory.total [MiB]",
    "GPU 0: NVIDIA A100 (UUID: GPU-1234)",
    "x, y, z",
])
def test_parse_nvidia_smi_ignores_garbage(text):
    assert parse_nvidia_smi(text) == []


def test_parse_nvidia_smi_keeps_good_lines_among_garbage():
    text = "Warning: something\n0, NVIDIA L4, 23034\nrandom text\n"
    assert parse_nvidia_smi(text) == [Gpu(0, "NVIDIA L4", 23034 / 1024)]


def test_parse_nvidia_smi_unified_memory_reports_zero_gib():
    # GB10 (DGX Spark) and other unified-memory GPUs print "[N/A]" for memory.total.
    assert parse_nvidia_smi("0, NVIDIA GB10, [N/A]") == [Gpu(0, "NVIDIA GB10", 0.0)]
    mixed = parse_nvidia_smi("0, NVIDIA GB10, [N/A]\n1, NVIDIA L4, 23034\n2, NVIDIA GB10, N/A")
    assert mixed == [Gpu(0, "NVIDIA GB10", 0.0), Gpu(1, "NVIDIA L4", 23034 / 1024), Gpu(2, "NVIDIA GB10", 0.0)]


def test_parse_nvidia_smi_keeps_a_name_with_commas():
    gpus = parse_nvidia_smi("0, NVIDIA RTX PRO 6000, Blackwell Edition, 97887\n1, Acme, Inc. X1, [N/A]")
    assert gpus == [Gpu(0, "NVIDIA RTX PRO 6000, Blackwell Edition", 97887 / 1024), Gpu(1, "Acme, Inc. X1", 0.0)]


def test_unknown_memory_card_sends_video_through_the_server():
    gpus = parse_nvidia_smi("0, NVIDIA GB10, [N/A]")
    p = plan(gpus, video_via="auto")
    assert p.server == Placement("cuda", (0,), 1, DEFAULTS.gpu_memory_utilization)
    assert p.worker is None
    assert p.video_via == "server"
    assert p.sequential_start is False
    assert "through the server" in " ".join(p.notes)
    assert p.server.env() == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "0"}


def test_unknown_memory_card_with_forced_worker_raises():
    with pytest.raises(ValueError) as info:
        plan(parse_nvidia_smi("0, NVIDIA GB10, [N/A]"), video_via="worker")
    assert "--video-via server" in str(info.value)


def test_cuda_placement_env_uses_nvidia_smi_order():
    env = Placement("cuda", (3, 1), 2, 0.5).env()
    assert env == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "3,1"}
    assert "CUDA_DEVICE_ORDER" not in Placement("cpu", cpu_kv_cache_gib=2).env()


@pytest.mark.parametrize("cvd,expected", [
    (None, [0, 1, 2]),
    ("1", [1]),
    ("", []),
    (" , ", []),
    ("GPU-8f2b3c4d-0000-1111-2222-333344445555", [0, 1, 2]),
    ("MIG-GPU-abc/1/0", [0, 1, 2]),
    ("2,0", [2, 0]),
    (" 1 , 2 ", [1, 2]),
    ("5", []),
    ("1,7", [1]),
])
def test_visible(cvd, expected):
    gpus = cards(24, 32, 80)
    assert [g.index for g in visible(gpus, cvd)] == expected


# --- model footprint ----------------------------------------------------------------------------------------

def write_checkpoint(folder, config, weight_sizes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    for i, size in enumerate(weight_sizes):
        with open(folder / f"model-{i:05d}.safetensors", "wb") as fh:
            fh.truncate(size)
    (folder / "tokenizer.json").write_bytes(b"x" * 12345)  # not weights: must not count


def test_footprint_from_model_dir(tmp_path):
    config = {"model_type": "qwen3_vl", "text_config": {
        "num_hidden_layers": 36, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "hidden_size": 2560}, "vision_config": {"num_heads": 16}}
    sizes = [3 * 1024**2 + 17, 5 * 1024**2]
    write_checkpoint(tmp_path / "m", config, sizes)
    fp = footprint_of_dir(tmp_path / "m")
    assert fp.kv_bytes_per_token == 2 * 36 * 8 * 128 * 2
    assert fp.kv_bytes_per_token == QWEN3_VL_4B.kv_bytes_per_token
    assert fp.weights_gib == pytest.approx(sum(sizes) / GIB)
    assert fp.num_kv_heads == 8
    assert fp.num_attention_heads == 32
    assert fp.engine_need_gib(8192) == pytest.approx(
        sum(sizes) / GIB + 2 * 36 * 8 * 128 * 2 * 8192 / GIB + ENGINE_OVERHEAD_GIB)


def test_footprint_flat_config_and_fallbacks(tmp_path):
    # No text_config, no head_dim (hidden_size // heads), no num_key_value_heads (= heads).
    config = {"num_hidden_layers": 4, "num_attention_heads": 8, "hidden_size": 512}
    write_checkpoint(tmp_path / "m", config, [1024])
    fp = footprint_of_dir(str(tmp_path / "m"))
    assert fp.kv_bytes_per_token == 2 * 4 * 8 * 64 * 2
    assert fp.num_kv_heads == 8
    assert fp.weights_gib == pytest.approx(1024 / GIB)


def test_engine_need_grows_with_context():
    assert QWEN3_VL_4B.engine_need_gib(32768) > QWEN3_VL_4B.engine_need_gib(8192) > QWEN3_VL_4B.weights_gib
    assert QWEN3_VL_4B.engine_need_gib(8192) == pytest.approx(
        QWEN3_VL_4B.weights_gib + 147456 * 8192 / GIB + ENGINE_OVERHEAD_GIB)


# --- describe -----------------------------------------------------------------------------------------------

def test_describe_names_where_each_engine_runs():
    shared = plan(cards(80))
    assert shared.describe() == (
        f"server: GPU 0, {shared.server.gpu_memory_utilization:.2f} of memory, "
        f"KV cache {shared.server.kv_cache_bytes / GIB:.1f} GiB; "
        f"video worker: GPU 0, {shared.worker.gpu_memory_utilization:.2f} of memory, "
        f"KV cache {shared.worker.kv_cache_bytes / GIB:.1f} GiB")
    sequential = plan(cards(80), explicit_kv=False).describe()
    assert sequential.endswith("; started one after the other")
    attached = plan(cards(80, 80), attached=True, video_via="worker").describe()
    assert attached.startswith("server: attached (--api-base); video worker: GPU 0,1, TP 2")
    assert Placement("cpu", cpu_kv_cache_gib=4).describe() == "CPU, KV cache 4 GiB"
    assert Placement("cuda", (1, 2), 2, 0.5).describe() == "GPU 1,2, TP 2, 0.50 of memory"


# --- fractions held to the memory free on each card -----------------------------------------------------------

def with_free(gpus: list[Gpu], *free_gib: float) -> list[Gpu]:
    return [Gpu(g.index, g.name, g.total_gib, f) for g, f in zip(gpus, free_gib)]


def test_parse_nvidia_smi_with_free_memory():
    text = "0, NVIDIA H200, 143771, 143156\n1, NVIDIA GeForce RTX 4090, 24564, [N/A]\n"  # the H200's as recorded
    gpus = parse_nvidia_smi(text, with_free=True)
    assert gpus == [Gpu(0, "NVIDIA H200", 143771 / 1024, 143156 / 1024),
                    Gpu(1, "NVIDIA GeForce RTX 4090", 24564 / 1024, None)]


def test_the_seeds_099_on_an_idle_h200_is_kept_as_vllm_accepted_it_there():
    # seen on the H200 (vLLM 0.26): an engine at 0.99 started; free after its CUDA context 139.29 of 139.8 GiB
    gpus = parse_nvidia_smi("0, NVIDIA H200, 143771, 143156\n1, NVIDIA H200, 143771, 143156", with_free=True)
    p = fit_to_free(plan(gpus), gpus, QWEN3_VL_4B)
    assert p.worker.gpu_memory_utilization == 0.99 and p.server.gpu_memory_utilization == 0.9


def test_the_seeds_099_on_a_24_gib_card_of_its_own_is_lowered_to_what_is_free():
    gpus = with_free(cards(24, 24), 23.6, 23.6)
    p = fit_to_free(plan(gpus), gpus, QWEN3_VL_4B)
    assert p.server.gpu_memory_utilization == 0.9  # 21.6 GiB of 23.6 free: untouched
    worker = p.worker.gpu_memory_utilization
    assert worker < 0.99
    assert worker * 24 + CUDA_CONTEXT_GIB <= 23.6  # what vLLM checks after its context
    assert worker >= 0.94  # lowered by no more than needed
    assert any("GPU 1" in n and "0.99" in n and f"{worker:.2f}" in n for n in p.notes)


def test_a_card_with_room_keeps_its_fractions():
    gpus = with_free(cards(80, 80), 79.9, 79.9)
    p = plan(cards(80, 80), gpu_memory_utilization=0.9, video_gpu_memory_utilization=0.95)
    assert fit_to_free(p, gpus, QWEN3_VL_4B) == p


def test_unknown_free_memory_changes_nothing():
    p = plan(cards(24, 24))
    assert fit_to_free(p, cards(24, 24), QWEN3_VL_4B) == p


def test_a_shared_card_partly_taken_by_another_process_lowers_the_servers_share_and_its_kv_cache():
    gpus = with_free(cards(80), 60.0)  # 20 GiB held by someone else
    before = plan(gpus)
    p = fit_to_free(before, gpus, QWEN3_VL_4B)
    assert p.worker == before.worker  # sized for one request: kept
    assert p.server.gpu_memory_utilization < before.server.gpu_memory_utilization
    assert (p.server.gpu_memory_utilization + p.worker.gpu_memory_utilization) * 80 + 2 * CUDA_CONTEXT_GIB <= 60.0
    assert p.server.kv_cache_bytes < before.server.kv_cache_bytes
    used = (QWEN3_VL_4B.weights_gib + ENGINE_OVERHEAD_GIB) * GIB + p.server.kv_cache_bytes
    assert used <= p.server.gpu_memory_utilization * 80 * GIB
    assert "server's fraction is lowered" in " ".join(p.notes)


def test_a_shared_card_with_room_for_one_engine_only_sends_video_through_the_server():
    gpus = with_free(cards(80), 25.0)  # 55 GiB held by someone else: no room for two copies of the weights
    p = fit_to_free(plan(gpus), gpus, QWEN3_VL_4B)
    assert p.worker is None and p.video_via == "server"
    assert p.server.kv_cache_bytes is None  # alone on the card again: vLLM sizes its cache
    assert p.server.gpu_memory_utilization * 80 + CUDA_CONTEXT_GIB <= 25.0
    assert p.server.gpu_memory_utilization * 80 >= QWEN3_VL_4B.engine_need_gib(8192)
    assert "video goes through the server" in " ".join(p.notes)
    assert not any(n.startswith("will not fit") for n in p.notes)


def test_a_card_too_full_for_any_engine_says_it_will_not_fit():
    gpus = with_free(cards(80, 24), 79.0, 5.0)  # the worker's card is nearly full
    p = fit_to_free(plan(gpus), gpus, QWEN3_VL_4B)
    assert 0 < p.worker.gpu_memory_utilization * 24 + CUDA_CONTEXT_GIB <= 5.0
    assert any(n.startswith("will not fit: the video worker") for n in p.notes)

"""Where the two engines run: a pure function of (GPUs, model footprint, settings), printed at start.

Two engines cannot each take 0.9 and 0.99 of one GPU, and each vLLM engine sizes its KV cache from the memory
it finds free when it starts. So:

- 2+ GPUs: the server on the first GPU(s) with ``--gpu-memory-utilization`` (0.9), the video worker on the
  others with ``--video-gpu-memory-utilization`` (0.99) and tensor parallelism over them: the seed's values.
- 1 GPU: both on it, the worker sized for one full-length request and the server given the rest of a
  common budget; started one after the other. When the card cannot hold two copies of the weights, video
  goes through the server (``video_url``), so the weights are loaded once.
- no GPU: vLLM's CPU build; each engine's KV cache is ``VLLM_CPU_KVCACHE_SPACE`` GiB, not a fraction, and
  both run eager unless ``--no-enforce-eager``: vLLM 0.32's CPU build compiles the model again at every start
  (its AOT artefact fails to load: bench/RESULTS.md, figure 5), which made a cold start minutes long.
  GPUs keep the seed's ``enforce_eager=False`` unless ``--enforce-eager`` is given.

vLLM's ``gpu_memory_utilization`` is a per-instance share of the whole card (vLLM's engine arguments), which
is what makes the 1-GPU split below meaningful.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

GIB = 1024**3

# Share of a card both engines may take together: the rest is for two CUDA contexts and the driver.
SHARED_CARD_BUDGET = 0.92
# Activations (vision tower on the largest allowed video, sampler), CUDA graphs and allocator slack, per
# engine. An estimate from vLLM's profile run of Qwen3-VL-4B at 8k context; see README, "GPU memory".
ENGINE_OVERHEAD_GIB = 3.0


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    total_gib: float


@dataclass(frozen=True)
class ModelFootprint:
    """What a model costs in memory: its weights and the KV cache of one token."""

    weights_gib: float
    kv_bytes_per_token: int
    num_kv_heads: int = 8
    num_attention_heads: int = 32

    def engine_need_gib(self, max_model_len: int) -> float:
        """Memory for one engine that can hold one full-length request."""
        return self.weights_gib + self.kv_bytes_per_token * max_model_len / GIB + ENGINE_OVERHEAD_GIB

    @classmethod
    def from_model_dir(cls, path: str | os.PathLike) -> "ModelFootprint":
        """Read weights size and KV shape from a checkpoint folder (bf16 KV cache)."""
        path = Path(path)
        weights = sum(p.stat().st_size for p in path.glob("*.safetensors")) / GIB
        cfg = json.loads((path / "config.json").read_text())
        text = cfg.get("text_config", cfg)
        heads = text["num_attention_heads"]
        kv_heads = text.get("num_key_value_heads") or heads
        head_dim = text.get("head_dim") or text["hidden_size"] // heads
        kv = 2 * text["num_hidden_layers"] * kv_heads * head_dim * 2  # K and V, 2 bytes each
        return cls(weights_gib=weights, kv_bytes_per_token=kv, num_kv_heads=kv_heads, num_attention_heads=heads)


# Qwen/Qwen3-VL-4B-Instruct: 8.9 GB of bf16 safetensors; 36 layers x 8 KV heads x 128 dims x K,V x 2 bytes.
QWEN3_VL_4B = ModelFootprint(weights_gib=8.3, kv_bytes_per_token=2 * 36 * 8 * 128 * 2)


@dataclass(frozen=True)
class Placement:
    """One engine's devices and memory settings."""

    device: Literal["cuda", "cpu"]
    gpus: tuple[int, ...] = ()
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    cpu_kv_cache_gib: int | None = None
    enforce_eager: bool = False

    def env(self) -> dict[str, str]:
        """Environment variables that put the engine there."""
        if self.device == "cpu":
            return {"VLLM_CPU_KVCACHE_SPACE": str(self.cpu_kv_cache_gib), "CUDA_VISIBLE_DEVICES": ""}
        # nvidia-smi numbers GPUs by PCI bus; CUDA, by default, fastest first: make CUDA use nvidia-smi's order.
        return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in self.gpus)}

    def describe(self) -> str:
        eager = ", eager" if self.enforce_eager else ""
        if self.device == "cpu":
            return f"CPU, KV cache {self.cpu_kv_cache_gib} GiB{eager}"
        where = "GPU " + ",".join(str(g) for g in self.gpus)
        tp = f", TP {self.tensor_parallel_size}" if self.tensor_parallel_size > 1 else ""
        return f"{where}{tp}, {self.gpu_memory_utilization:.2f} of memory{eager}"


@dataclass(frozen=True)
class DevicePlan:
    server: Placement | None  # None: attached to an existing server (--api-base)
    worker: Placement | None  # None: video goes through the server
    sequential_start: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def video_via(self) -> Literal["worker", "server"]:
        return "worker" if self.worker else "server"

    def describe(self) -> str:
        """The plan in one line, for the log and the page header."""
        server = self.server.describe() if self.server else "attached (--api-base)"
        video = f"video worker: {self.worker.describe()}" if self.worker else "video: through the server"
        order = "; started one after the other" if self.sequential_start and self.worker and self.server else ""
        return f"server: {server}; {video}{order}"


def _tp_for(n: int, footprint: ModelFootprint) -> int:
    """Largest tensor-parallel size <= n that divides the model's attention and KV heads."""
    for tp in range(n, 0, -1):
        if footprint.num_attention_heads % tp == 0 and footprint.num_kv_heads % tp == 0:
            return tp
    return 1


def plan_devices(gpus: list[Gpu], footprint: ModelFootprint, *, max_model_len: int, attached: bool,
                 video_via: str, tensor_parallel_size: int, gpu_memory_utilization: float,
                 video_gpu_memory_utilization: float, cpu_kv_cache_gib: int,
                 enforce_eager: bool | None = None) -> DevicePlan:
    """Place the server and the video worker. Pure: same inputs, same plan.

    ``enforce_eager`` None: eager on the CPU build, the seed's compiled engines on GPUs.
    """
    want_worker = video_via != "server"
    if not gpus:
        eager = True if enforce_eager is None else enforce_eager
        cpu = Placement("cpu", cpu_kv_cache_gib=cpu_kv_cache_gib, enforce_eager=eager)
        if attached and video_via == "auto":
            want_worker = False
        return DevicePlan(server=None if attached else cpu, worker=cpu if want_worker else None,
                          sequential_start=False, notes=("no GPU found: vLLM's CPU build",))

    indices = tuple(g.index for g in gpus)
    eager = bool(enforce_eager)
    if attached:
        if video_via != "worker":
            return DevicePlan(None, None, False, ("attached: video goes to the same server as video_url",))
        tp = _tp_for(len(gpus), footprint)
        return DevicePlan(None, Placement("cuda", indices[:tp], tp, video_gpu_memory_utilization, enforce_eager=eager), False)

    server_tp = min(tensor_parallel_size, len(gpus))
    server = Placement("cuda", indices[:server_tp], server_tp, gpu_memory_utilization, enforce_eager=eager)
    rest = indices[server_tp:]
    if rest and want_worker:
        tp = _tp_for(len(rest), footprint)
        worker = Placement("cuda", rest[:tp], tp, video_gpu_memory_utilization, enforce_eager=eager)
        return DevicePlan(server, worker, False, ("worker on its own GPU(s): the seed's settings verbatim",))
    if not want_worker:
        return DevicePlan(server, None, False, ("video through the server, as asked (--video-via server)",))

    # One card (or every card taken by the server's tensor parallelism): share the server's GPU(s).
    smallest = min(g.total_gib for g in gpus[:server_tp])
    need = footprint.engine_need_gib(max_model_len) / server_tp
    budget = SHARED_CARD_BUDGET * smallest
    if 2 * need > budget:
        note = (f"{smallest:.0f} GiB cannot hold two engines ({need:.1f} GiB each at least)")
        if video_via == "worker":
            raise ValueError(note + ": use --video-via server, a second GPU, or a smaller --max-model-len")
        return DevicePlan(server, None, False, (note + ": video goes through the server",))
    worker_frac = round(need / smallest + 0.005, 2)
    server_frac = round(SHARED_CARD_BUDGET - worker_frac, 2)
    return DevicePlan(
        Placement("cuda", server.gpus, server_tp, server_frac, enforce_eager=eager),
        Placement("cuda", server.gpus, server_tp, worker_frac, enforce_eager=eager),
        sequential_start=True,
        notes=(f"one {smallest:.0f} GiB card shared: worker {worker_frac}, server {server_frac} "
               "(each engine profiles free memory at start, so they start one after the other)",),
    )


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Parse ``nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        name = ", ".join(parts[1:-1])  # a name may itself contain commas
        try:
            total = float(parts[-1]) / 1024
        except ValueError:  # "[N/A]" on unified-memory GPUs: unknown, so the plan will not share the card
            total = 0.0
        gpus.append(Gpu(int(parts[0]), name, total))
    return gpus


def visible(gpus: list[Gpu], cuda_visible_devices: str | None) -> list[Gpu]:
    """Keep the GPUs that ``CUDA_VISIBLE_DEVICES`` allows (numeric lists; anything else keeps all)."""
    if cuda_visible_devices is None:
        return gpus
    wanted = [p.strip() for p in cuda_visible_devices.split(",") if p.strip()]
    if not wanted:
        return []
    if not all(w.isdigit() for w in wanted):
        return gpus
    by_index = {g.index: g for g in gpus}
    return [by_index[int(w)] for w in wanted if int(w) in by_index]


def detect_gpus() -> list[Gpu]:
    """The machine's NVIDIA GPUs, as ``nvidia-smi`` lists them (none when it is missing or fails)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return visible(parse_nvidia_smi(out), os.environ.get("CUDA_VISIBLE_DEVICES"))

"""Where the two engines run: a pure function of (GPUs, model footprint, settings), printed at start.

Two engines cannot each take 0.9 and 0.99 of one GPU, and each vLLM engine sizes its KV cache from the memory
it finds free when it starts. So:

- 2+ GPUs: the server on the first GPU(s) with ``--gpu-memory-utilization`` (0.9), the video worker on the
  others with ``--video-gpu-memory-utilization`` (0.99) and tensor parallelism over them: the seed's values.
- 1 GPU: both on it, the worker sized for one full-length request and the server given the rest of a
  common budget. Each engine gets an explicit KV-cache size (vLLM's ``kv_cache_memory_bytes``), so neither
  sizes its cache from what the other has taken meanwhile, and both start at the same time; a vLLM without
  that setting gets them one after the other. When the card cannot hold two copies of the weights, video
  goes through the server (``video_url``), so the weights are loaded once.
- Every fraction is then held to the memory free on its card (:func:`fit_to_free`): vLLM refuses to start
  an engine when less than its fraction of the card is free after its own CUDA context.
- no GPU: vLLM's CPU build; each engine's KV cache is ``VLLM_CPU_KVCACHE_SPACE`` GiB, not a fraction, and
  both run eager unless ``--no-enforce-eager``: vLLM 0.32's CPU build compiles the model again at every start
  (its AOT artefact fails to load: bench/RESULTS.md, figure 5), which made a cold start minutes long.
  GPUs keep the seed's ``enforce_eager=False`` unless ``--enforce-eager`` is given.

vLLM's ``gpu_memory_utilization`` is a per-instance share of the whole card (vLLM's engine arguments), which
is what makes the 1-GPU split below meaningful.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from typing import Literal, cast

from ..settings import Settings

GIB = 1024**3

# Share of a card both engines may take together: the rest is for two CUDA contexts and the driver.
SHARED_CARD_BUDGET = 0.92
# The model's memory figures, measured, in one place (bench/RESULTS-gpu.md): one H200, vLLM 0.26.0's CUDA build,
# a random-weight checkpoint of Qwen3-VL-4B-Instruct's dimensions, 8192 context, both engines on the card.
# Weights as vLLM loads them ("Model loading took ..."): 8.69 GiB (server) and 8.80 GiB (worker).
WEIGHTS_AS_LOADED_GIB = 8.8
# Per engine, beyond weights, KV cache and CUDA context: nvidia-smi's figure for each engine's processes less
# what vLLM logged for weights and KV cache less the context: server 117.90 - 8.69 - 105.77 - 0.51 = 2.93 GiB,
# worker 14.34 - 8.80 - 1.87 - 0.51 = 3.16 GiB (CUDA graphs 1.0-1.7, activations of the profile run, non-torch).
ENGINE_OVERHEAD_GIB = 3.2
# A CUDA context with torch and vLLM loaded, which is not free when vLLM checks its fraction: 0.51 GiB measured
# (139.80 GiB free before, 139.29 after, by vLLM's own count); 0.75 leaves room for other cards' drivers.
CUDA_CONTEXT_GIB = 0.75


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    total_gib: float
    free_gib: float | None = None  # as nvidia-smi saw it before the engines started (None: not read)


@dataclass(frozen=True)
class ModelFootprint:
    """What a model costs in memory: its weights, the KV cache of one token, and (a hybrid model: Qwen3.5) the
    fixed state its linear-attention layers keep per sequence (demo/engines/model_card.py reads all of it from
    the model's config)."""

    weights_gib: float
    kv_bytes_per_token: int
    num_kv_heads: int = 8
    num_attention_heads: int = 32
    state_bytes_per_sequence: int = 0

    def engine_need_gib(self, max_model_len: int) -> float:
        """Memory for one engine that can hold one full-length request."""
        return (self.weights_gib + (self.kv_bytes_per_token * max_model_len + self.state_bytes_per_sequence) / GIB
                + ENGINE_OVERHEAD_GIB)


# Qwen/Qwen3-VL-4B-Instruct: weights as loaded (above); 36 layers x 8 KV heads x 128 dims x K,V x 2 bytes.
QWEN3_VL_4B = ModelFootprint(weights_gib=WEIGHTS_AS_LOADED_GIB, kv_bytes_per_token=2 * 36 * 8 * 128 * 2)


@dataclass(frozen=True)
class Placement:
    """One engine's devices and memory settings."""

    device: Literal["cuda", "cpu"]
    gpus: tuple[int, ...] = ()
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    cpu_kv_cache_gib: int | None = None
    enforce_eager: bool = False
    kv_cache_bytes: int | None = None  # per GPU; None: vLLM sizes it from the fraction (a card of its own)

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
        kv = f", KV cache {self.kv_cache_bytes / GIB:.1f} GiB" if self.kv_cache_bytes else ""
        return f"{where}{tp}, {self.gpu_memory_utilization:.2f} of memory{kv}{eager}"


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


@dataclass(frozen=True)
class PlanInputs:
    """What the device plan depends on besides the machine and the model: the settings' side of it, in one place.

    ``enforce_eager`` None: eager on the CPU build, the seed's compiled engines on GPUs. ``explicit_kv``: the
    installed vLLM takes a KV-cache size (``--kv-cache-memory-bytes``), so engines sharing a card can start
    together; without it they start one after the other. ``engine_start``: "auto", "together", "server-first".
    """

    max_model_len: int
    attached: bool
    video_via: str
    tensor_parallel_size: int
    gpu_memory_utilization: float
    video_gpu_memory_utilization: float
    cpu_kv_cache_gib: int
    enforce_eager: bool | None = None
    explicit_kv: bool = True
    engine_start: str = "auto"

    @classmethod
    def from_settings(cls, settings: Settings, *, explicit_kv: bool = True) -> PlanInputs:
        return cls(max_model_len=settings.max_model_len, attached=bool(settings.api_base),
                   video_via=settings.video_via, tensor_parallel_size=settings.tensor_parallel_size,
                   gpu_memory_utilization=settings.gpu_memory_utilization,
                   video_gpu_memory_utilization=settings.video_gpu_memory_utilization,
                   cpu_kv_cache_gib=settings.cpu_kv_cache_gib, enforce_eager=settings.enforce_eager,
                   explicit_kv=explicit_kv, engine_start=settings.engine_start)


def plan_devices(gpus: list[Gpu], footprint: ModelFootprint, inputs: PlanInputs) -> DevicePlan:
    """Place the server and the video worker. Pure: same inputs, same plan."""
    plan = _plan_devices(gpus, footprint, inputs)
    if plan.server is None or plan.worker is None or inputs.engine_start == "together" and not plan.sequential_start:
        return plan
    if inputs.engine_start == "server-first" or not gpus:  # on the CPU, "auto" is server-first: see the settings
        note = ("" if plan.sequential_start else
                "the worker starts once the server is ready" + (" (no GPU: two starts on a few cores slow each "
                                                                 "other, and chat answers sooner)" if not gpus else ""))
        return replace(plan, sequential_start=True, notes=plan.notes + ((note,) if note else ()))
    return plan


def _plan_devices(gpus: list[Gpu], footprint: ModelFootprint, inputs: PlanInputs) -> DevicePlan:
    i = inputs
    video_via, enforce_eager, attached = i.video_via, i.enforce_eager, i.attached
    want_worker = video_via != "server"
    if not gpus:
        eager = True if enforce_eager is None else enforce_eager
        cpu = Placement("cpu", cpu_kv_cache_gib=i.cpu_kv_cache_gib, enforce_eager=eager)
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
        worker = Placement("cuda", indices[:tp], tp, i.video_gpu_memory_utilization, enforce_eager=eager)
        return DevicePlan(None, worker, False)

    server_tp = min(i.tensor_parallel_size, len(gpus))
    server = Placement("cuda", indices[:server_tp], server_tp, i.gpu_memory_utilization, enforce_eager=eager)
    rest = indices[server_tp:]
    if rest and want_worker:
        tp = _tp_for(len(rest), footprint)
        worker = Placement("cuda", rest[:tp], tp, i.video_gpu_memory_utilization, enforce_eager=eager)
        return DevicePlan(server, worker, False, ("worker on its own GPU(s): the seed's settings verbatim",))
    if not want_worker:
        return DevicePlan(server, None, False, ("video through the server, as asked (--video-via server)",))

    # One card (or every card taken by the server's tensor parallelism): share the server's GPU(s).
    smallest = min(g.total_gib for g in gpus[:server_tp])
    need = per_card_need_gib(footprint, i.max_model_len, server_tp)
    budget = SHARED_CARD_BUDGET * smallest
    if 2 * need > budget:
        note = (f"{smallest:.0f} GiB cannot hold two engines ({need:.1f} GiB each at least)")
        if video_via == "worker":
            raise ValueError(note + ": use --video-via server, a second GPU, or a smaller --max-model-len")
        return DevicePlan(server, None, False, (note + ": video goes through the server",))
    worker_frac = math.ceil(need / smallest * 100) / 100
    server_frac = round(SHARED_CARD_BUDGET - worker_frac, 2)
    worker_kv = server_kv = None
    if i.explicit_kv:  # what is left of each share once weights and overhead are in, per card
        worker_kv = kv_bytes_left(worker_frac, smallest, footprint, server_tp)
        server_kv = kv_bytes_left(server_frac, smallest, footprint, server_tp)
        how = "each with its own KV-cache size, so they start together"
    else:
        how = "each engine sizes its cache from the memory free at its start, so they start one after the other"
    return DevicePlan(
        Placement("cuda", server.gpus, server_tp, server_frac, enforce_eager=eager, kv_cache_bytes=server_kv),
        Placement("cuda", server.gpus, server_tp, worker_frac, enforce_eager=eager, kv_cache_bytes=worker_kv),
        sequential_start=not i.explicit_kv,
        notes=(f"one {smallest:.0f} GiB card shared: worker {worker_frac}, server {server_frac} ({how})",),
    )


def per_card_need_gib(footprint: ModelFootprint, max_model_len: int, tp: int = 1) -> float:
    """One engine's memory on each of its ``tp`` cards for one full-length request: its slice of the weights and
    of the KV cache, and the whole overhead (every card has its own CUDA graphs and activations)."""
    one_request = footprint.kv_bytes_per_token * max_model_len + footprint.state_bytes_per_sequence
    return (footprint.weights_gib + one_request / GIB) / tp + ENGINE_OVERHEAD_GIB


def kv_bytes_left(fraction: float, card_gib: float, footprint: ModelFootprint, tp: int = 1) -> int:
    """The KV cache, per card, that a share of ``fraction`` holds after the weights and the overhead."""
    per_card = fraction * card_gib - (footprint.weights_gib / tp + ENGINE_OVERHEAD_GIB)
    return max(0, int(per_card * GIB))


def fit_to_free(plan: DevicePlan, gpus: list[Gpu], footprint: ModelFootprint, max_model_len: int = 8192
                ) -> DevicePlan:
    """Lower fractions that the memory free on their card cannot give, saying so in the plan's notes.

    vLLM refuses to start an engine when the memory free after its own CUDA context is less than its fraction
    of the card (``vllm/v1/worker/utils.py``, ``request_memory``): the seed's 0.99 for a worker on a card of
    its own leaves less than a context, and any other process on the card takes from it too. Of two engines
    sharing a card, the server gives up the difference (the worker is sized for one request); when the server
    could then not hold one request, the worker goes and video goes through the server. An engine that cannot
    hold one request even so is said in a note starting "will not fit". Pure.
    """
    by_index = {g.index: g for g in gpus}
    server, worker, notes = plan.server, plan.worker, list(plan.notes)
    placed = [p for p in (server, worker) if p is not None and p.device == "cuda"]
    for index in sorted({i for p in placed for i in p.gpus}):
        gpu = by_index.get(index)
        if gpu is None or gpu.free_gib is None or gpu.total_gib <= 0:
            continue
        here = [p for p in placed if index in p.gpus]
        room = math.floor((gpu.free_gib - CUDA_CONTEXT_GIB * len(here)) / gpu.total_gib * 100) / 100
        taken = round(sum(p.gpu_memory_utilization or 0.0 for p in here), 2)
        if taken <= room:
            continue
        target = server if server in here else here[0]
        tp = target.tensor_parallel_size
        need = per_card_need_gib(footprint, max_model_len, tp) / gpu.total_gib
        lowered = math.floor(((target.gpu_memory_utilization or 0.0) - (taken - room)) * 100 + 1e-6) / 100
        free = f"GPU {index}: {gpu.free_gib:.1f} of {gpu.total_gib:.1f} GiB free"
        if lowered < need and target is server and worker is not None and worker in here:
            # the server cannot hold a request beside the worker: one engine, video through the server
            worker, placed, here = None, [server], [server]
            lowered = math.floor((gpu.free_gib - CUDA_CONTEXT_GIB) / gpu.total_gib * 100) / 100
            notes.append(f"{free}: too little for two engines, so video goes through the server")
            new = replace(server, gpu_memory_utilization=min(lowered, server.gpu_memory_utilization or 1.0),
                          kv_cache_bytes=None)  # a card of its own again: vLLM sizes its cache
        else:
            lowered = max(0.01, lowered)
            kv = target.kv_cache_bytes
            if kv is not None:
                kv = kv_bytes_left(lowered, gpu.total_gib, footprint, tp)
            new = replace(target, gpu_memory_utilization=lowered, kv_cache_bytes=kv)
        name = "server" if target is server else "video worker"
        notes.append(f"{free}, so the {name}'s fraction is lowered from {target.gpu_memory_utilization:.2f} to "
                     f"{new.gpu_memory_utilization:.2f} (vLLM refuses to start when less than its fraction is "
                     "free after its CUDA context)")
        if cast(float, new.gpu_memory_utilization) < need:  # set just above, in either branch
            notes.append(f"will not fit: the {name} needs {need * gpu.total_gib:.1f} GiB of GPU {index} for one "
                         f"{max_model_len}-token request; free the card, or lower --max-model-len")
        if target is server:
            server = new
        else:
            worker = new
        placed = [p for p in (server, worker) if p is not None and p.device == "cuda"]
    return replace(plan, server=server, worker=worker, notes=tuple(notes))


def parse_nvidia_smi(text: str, with_free: bool = False) -> list[Gpu]:
    """Parse ``nvidia-smi --query-gpu=index,name,memory.total[,memory.free] --format=csv,noheader,nounits``."""
    gpus = []
    numbers = 2 if with_free else 1
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 + numbers or not parts[0].isdigit():
            continue
        name = ", ".join(parts[1:-numbers])  # a name may itself contain commas
        values: list[float | None] = []
        for raw in parts[-numbers:]:
            try:
                values.append(float(raw) / 1024)
            except ValueError:  # "[N/A]" on unified-memory GPUs: unknown, so the plan will not share the card
                values.append(None)
        total = values[0] or 0.0
        gpus.append(Gpu(int(parts[0]), name, total, values[1] if with_free else None))
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
        out = subprocess.run([exe, "--query-gpu=index,name,memory.total,memory.free",
                              "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return visible(parse_nvidia_smi(out, with_free=True), os.environ.get("CUDA_VISIBLE_DEVICES"))

"""``python -m demo.plan``: print the device plan and each engine's estimated memory, and warn when it won't fit.

Takes the app's own flags (the same settings decide the plan) plus ``--gpus 24`` or ``--gpus 80,80`` (GiB per
card) to plan for a machine you don't have. It reads the model's size from a local checkpoint folder when
``--model`` is one, and otherwise uses Qwen3-VL-4B-Instruct's published size; it downloads nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .engines.family import KNOWN
from .engines.model import TINY_MODELS, resolve_model
from .engines.model_card import footprint_of, read_card, state_copies
from .engines.placement import (
    ENGINE_OVERHEAD_GIB,
    GIB,
    QWEN3_VL_4B,
    DevicePlan,
    Gpu,
    ModelFootprint,
    Placement,
    PlanInputs,
    detect_gpus,
    fit_to_free,
    plan_devices,
)
from .engines.vllm_flags import installed_vllm
from .inputs.video_frames import frame_tokens, video_token_budget
from .settings import Settings


@dataclass(frozen=True)
class EngineEstimate:
    name: str
    placement: Placement
    given_gib: float  # what the engine may take: its fraction of the card(s), or the CPU KV cache + the rest
    weights_gib: float
    overhead_gib: float
    kv_gib: float  # room left for the KV cache
    kv_tokens: int  # tokens that room holds
    max_model_len: int

    @property
    def full_requests(self) -> float:
        """How many requests of the full context the KV cache holds at once (vLLM needs at least one)."""
        return self.kv_tokens / self.max_model_len

    @property
    def fits(self) -> bool:
        return self.kv_tokens >= self.max_model_len


def estimate(placement: Placement, name: str, footprint: ModelFootprint, gpus: list[Gpu],
             max_model_len: int) -> EngineEstimate:
    """One engine's memory: weights and overhead are fixed; the KV cache gets what is left of its share."""
    tp = max(1, placement.tensor_parallel_size)
    if placement.device == "cpu":
        kv = float(placement.cpu_kv_cache_gib or 0)
        given = footprint.weights_gib + ENGINE_OVERHEAD_GIB + kv
    else:
        by_index = {g.index: g for g in gpus}
        cards = [by_index[i] for i in placement.gpus if i in by_index]
        smallest = min((g.total_gib for g in cards), default=0.0)
        given = (placement.gpu_memory_utilization or 0.0) * smallest * tp  # the fraction applies per card
        kv = max(0.0, given - footprint.weights_gib - ENGINE_OVERHEAD_GIB * tp)
        if placement.kv_cache_bytes:  # a size of its own (a shared card), per card
            kv = placement.kv_cache_bytes * tp / GIB
    # a hybrid model's fixed state per request comes out of the same room: tokens counted as full-length requests
    per_token = footprint.kv_bytes_per_token + footprint.state_bytes_per_sequence / max_model_len
    tokens = int(kv * GIB / per_token) if per_token else 0
    return EngineEstimate(name, placement, given, footprint.weights_gib, ENGINE_OVERHEAD_GIB * tp, kv, tokens,
                          max_model_len)


def warnings_for(plan: DevicePlan, estimates: list[EngineEstimate], gpus: list[Gpu], ram_gib: float | None
                 ) -> list[str]:
    out = []
    for est in estimates:
        if not est.fits:
            out.append(f"the {est.name} will not fit: its KV cache would hold {est.kv_tokens} tokens, less than "
                       f"one {est.max_model_len}-token request. Lower --max-model-len or give it more memory.")
    for g in gpus:  # fractions of one card must not add up past it
        share = sum(e.placement.gpu_memory_utilization or 0.0 for e in estimates
                    if e.placement.device == "cuda" and g.index in e.placement.gpus)
        if share > 1.0:
            out.append(f"GPU {g.index}: the engines' fractions add up to {share:.2f} of the card.")
    cpu = [e for e in estimates if e.placement.device == "cpu"]
    if cpu and ram_gib:
        need = sum(e.given_gib for e in cpu)
        if need > 0.9 * ram_gib:
            out.append(f"the CPU engines need about {need:.0f} GiB of the {ram_gib:.0f} GiB of RAM; "
                       "lower --cpu-kv-cache-gib.")
    return out


def footprint_for(settings: Settings) -> ModelFootprint:
    """The model's footprint without downloading it: a local folder's (or a tiny build's) own files, a known hub id's
    published config (demo/engines/family.py), else Qwen3-VL-4B-Instruct's."""
    if settings.model in TINY_MODELS:
        return read_card(resolve_model(settings)).footprint
    path = Path(os.path.expanduser(settings.model))
    if path.is_dir():
        try:
            return read_card(path).footprint
        except ValueError:
            pass
    known = KNOWN.get(settings.model)
    return footprint_of(known.config, copies=state_copies(installed_vllm())) if known else QWEN3_VL_4B


def report(settings: Settings, gpus: list[Gpu], footprint: ModelFootprint, ram_gib: float | None) -> str:
    plan = plan_devices(gpus, footprint, PlanInputs.from_settings(settings))
    plan = fit_to_free(plan, gpus, footprint, settings.max_model_len)
    lines = ["GPUs: " + (", ".join(f"{g.index}: {g.name} {g.total_gib:.0f} GiB" for g in gpus) or "none"),
             f"Model: {settings.model} (weights {footprint.weights_gib:.2f} GiB, "
             f"KV cache {footprint.kv_bytes_per_token / 1024:.0f} KiB per token)",
             f"Plan: {plan.describe()}"]
    lines += [f"  note: {n}" for n in plan.notes]
    estimates = [estimate(p, name, footprint, gpus, settings.max_model_len)
                 for name, p in (("server", plan.server), ("video worker", plan.worker)) if p is not None]
    for e in estimates:
        lines.append(f"{e.name}: {e.placement.describe()}: {e.given_gib:.1f} GiB = weights "
                     f"{e.weights_gib:.1f} + overhead {e.overhead_gib:.1f} + KV cache {e.kv_gib:.1f} GiB "
                     f"({e.kv_tokens} tokens, {e.full_requests:.1f} full-length requests)")
    budget = video_token_budget(settings.max_model_len, settings.video_max_tokens)
    per_pair = frame_tokens(2, 640, 352)
    lines.append(f"Video: {budget} tokens for frames (--max-model-len {settings.max_model_len} less "
                 f"--video-max-tokens {settings.video_max_tokens} and the prompt): about "
                 f"{2 * max(0, budget // per_pair)} frames at 640x352")
    warnings = warnings_for(plan, estimates, gpus, ram_gib)
    lines += [f"WARNING: {w}" for w in warnings] or ["It fits."]
    return "\n".join(lines)


CARDS_GIB = (24, 32, 48, 80, 141)


def memory_table(settings: Settings | None = None) -> str:
    """docs/device-plan.md's one-card table, made from the measured figures in demo/engines/placement.py
    (``--readme-table``)."""
    settings = settings or Settings()
    rows = ["| card | server | video worker | video |", "|---|---|---|---|"]
    for size in CARDS_GIB:
        gpus = [Gpu(0, "card", float(size))]
        try:
            # one card of each size, a co-launched server: the settings' other choices as given
            inputs = replace(PlanInputs.from_settings(settings), attached=False, tensor_parallel_size=1)
            plan = plan_devices(gpus, QWEN3_VL_4B, inputs)
        except ValueError:
            continue
        cells = []
        for name, p in (("server", plan.server), ("video worker", plan.worker)):
            if p is None:
                cells.append("–")
                continue
            e = estimate(p, name, QWEN3_VL_4B, gpus, settings.max_model_len)
            cells.append(f"{p.gpu_memory_utilization:.2f}: KV cache {e.kv_gib:.1f} GiB = {e.kv_tokens:,} tokens "
                         f"({e.full_requests:.1f} full requests)")
        video = "worker beside the server" if plan.worker else "through the server (one copy of the weights)"
        rows.append(f"| {size} GiB | {cells[0]} | {cells[1]} | {video} |")
    return "\n".join(rows)


# One card of each size a Space or a workstation offers, as nvidia-smi reports it (GiB).
FAMILY_CARDS = (("16 GB (T4)", 15.0), ("24 GB (L4, A10G)", 22.5), ("48 GB (L40S)", 45.0), ("80 GB (A100, H100)", 79.6))


def requests(n: float) -> str:
    return f"{n:.0f} request" + ("" if round(n) == 1 else "s")


def family_table(settings: Settings | None = None) -> str:
    """For each published model of the family (demo/engines/family.py), what one card of each size runs with the
    app's plan: both engines, the server alone (video through it), or nothing (``--family``; the README's table)."""
    settings = settings or Settings()
    inputs = replace(PlanInputs.from_settings(settings), attached=False, tensor_parallel_size=1)
    rows = [f"| model | weights | one {settings.max_model_len}-token request | "
            + " | ".join(name for name, _ in FAMILY_CARDS) + " |", "|---" * (3 + len(FAMILY_CARDS)) + "|"]
    for model, known in KNOWN.items():
        if model.endswith("-Thinking"):
            continue  # the same dimensions as its Instruct edition
        fp = footprint_of(known.config)
        request = (fp.kv_bytes_per_token * settings.max_model_len + fp.state_bytes_per_sequence) / GIB
        cells = []
        for _, size in FAMILY_CARDS:
            gpus = [Gpu(0, "card", size)]
            try:
                plan = plan_devices(gpus, fp, inputs)
            except ValueError:
                plan = None
            server = estimate(plan.server, "server", fp, gpus, settings.max_model_len) if plan and plan.server else None
            if server is None or not server.fits:
                cells.append("–")
            elif plan is not None and plan.worker is not None:
                cells.append(f"both engines ({requests(server.full_requests)})")
            else:
                cells.append(f"server, video through it ({requests(server.full_requests)})")
        rows.append(f"| {model.split('/')[-1]} | {fp.weights_gib:.1f} GiB | {request:.2f} GiB | " + " | ".join(cells)
                    + " |")
    return "\n".join(rows)


def _ram_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    except (ValueError, OSError, AttributeError):
        return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--gpus", help="GiB per GPU, comma-separated (24, or 80,80): plan for those cards "
                                      "instead of this machine's")
    extra.add_argument("--readme-table", action="store_true",
                       help="print the one-card memory table of docs/device-plan.md")
    extra.add_argument("--family", action="store_true",
                       help="print, for each published Qwen3-VL and Qwen3.5 model, what one card of each size runs")
    known, rest = extra.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        print("python -m demo.plan [--gpus 24|80,80] [--readme-table] [--family] [app.py's flags]\n")
    settings = Settings.from_args(rest)
    if known.readme_table:
        print(memory_table(settings))
        return 0
    if known.family:
        print(family_table(settings))
        return 0
    if known.gpus:
        try:
            gpus = [Gpu(i, "given", float(x)) for i, x in enumerate(known.gpus.split(","))]
        except ValueError:
            extra.error(f"--gpus takes GiB per card, e.g. 24 or 80,80, not {known.gpus!r}")
    else:
        gpus = detect_gpus()
    try:
        text = report(settings, gpus, footprint_for(settings), None if gpus else _ram_gib())
    except ValueError as exc:  # the plan itself refuses (e.g. --video-via worker on a card too small)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 2 if "WARNING:" in text else 0


if __name__ == "__main__":
    sys.exit(main())

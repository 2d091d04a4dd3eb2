"""What the app needs to know of a model, read from the model's own files instead of a list of names.

From ``config.json``: the architecture (a Qwen vision model of the Qwen3-VL or Qwen3.5 family, or a clear
sentence why not), the parameter count and the memory a token of context costs. From the chat template: whether
the model thinks always (Qwen3-VL-*-Thinking), on request (Qwen3.5: ``enable_thinking``), or never. From
``generation_config.json``: the sampling the model's authors recommend, the page's defaults.

The memory of context is not the same across the family. Qwen3-VL's layers are all full attention: every token
keeps K and V in every layer. Qwen3.5 is hybrid: of each four layers three are Gated DeltaNet (linear attention),
which keep a fixed state per sequence (a short convolution window and a ``value x key`` matrix per head) however
long it is, and only the full-attention layers keep K and V per token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .placement import GIB, ModelFootprint
from .reasoning import chat_template, opens_think
from .vllm_flags import installed_vllm

# The architectures this demo serves, by the family name the page shows. Their vision format is Qwen3-VL's:
# 0-1000 boxes, `<t seconds>` timestamps, the same processors.
FAMILIES = {
    "Qwen3VLForConditionalGeneration": "Qwen3-VL",
    "Qwen3VLMoeForConditionalGeneration": "Qwen3-VL MoE",
    "Qwen3_5ForConditionalGeneration": "Qwen3.5",
    "Qwen3_5MoeForConditionalGeneration": "Qwen3.5 MoE",
}
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}

Thinking = Literal["never", "always", "switch"]


class ModelCardError(ValueError):
    """The folder's model is not one this demo can serve; the message says why and what to pass instead."""


@dataclass(frozen=True)
class TextShape:
    """The text model's layers as the KV cache sees them."""

    layers: int
    full_layers: int  # layers with K and V per token
    kv_heads: int
    head_dim: int
    attention_heads: int
    state_bytes: int = 0  # the linear-attention layers' fixed state of one sequence, all layers together

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.full_layers * self.kv_heads * self.head_dim * 2  # K and V, bf16

    @property
    def hybrid(self) -> bool:
        return self.full_layers < self.layers


def text_shape(config: dict) -> TextShape:
    """The KV-cache shape of a Qwen3-VL or Qwen3.5 config (a ``config.json`` as a dict)."""
    text = config.get("text_config", config)
    layers = int(text["num_hidden_layers"])
    heads = int(text["num_attention_heads"])
    kv_heads = int(text.get("num_key_value_heads") or heads)
    head_dim = int(text.get("head_dim") or text["hidden_size"] // heads)
    types = text.get("layer_types")
    if not types and "linear_num_value_heads" in text:  # Qwen3.5 without the list: every n-th layer is full
        every = int(text.get("full_attention_interval", 4))
        types = ["full_attention" if (i + 1) % every == 0 else "linear_attention" for i in range(layers)]
    linear = sum(1 for t in types or () if t == "linear_attention")
    state = 0
    if linear:
        nk, nv = int(text["linear_num_key_heads"]), int(text["linear_num_value_heads"])
        dk, dv = int(text["linear_key_head_dim"]), int(text["linear_value_head_dim"])
        conv = (2 * nk * dk + nv * dv) * (int(text.get("linear_conv_kernel_dim", 4)) - 1) * 2  # bf16 window
        ssm = nv * dk * dv * DTYPE_BYTES.get(str(text.get("mamba_ssm_dtype", "bfloat16")), 2)
        state = linear * (conv + ssm)
    return TextShape(layers, layers - linear, kv_heads, head_dim, heads, state)


def count_params(config: dict, mtp: bool = False) -> int:
    """The parameters of a Qwen3-VL or Qwen3.5 checkpoint (dense or MoE, vision tower included), from its config:
    for a model not downloaded yet (``python -m demo.plan``). Checked against published counts and the tiny
    checkpoints' own tensors (tests/unit/test_model_card.py).

    ``mtp``: with Qwen3.5's multi-token-prediction layers (``mtp_num_hidden_layers``), which its checkpoints carry
    and its published counts include, but which vLLM loads only for speculative decoding (the app does not use
    it): the plan counts without them."""
    text = config.get("text_config", config)
    h, vocab = int(text["hidden_size"]), int(text["vocab_size"])
    tied = bool(config.get("tie_word_embeddings", text.get("tie_word_embeddings", False)))
    shape = text_shape(config)
    heads, kv, hd = shape.attention_heads, shape.kv_heads, shape.head_dim
    gate = 2 if text.get("attn_output_gate", "linear_num_value_heads" in text) else 1  # Qwen3.5 gates its output
    full = h * heads * hd * gate + 2 * h * kv * hd + heads * hd * h + 2 * hd  # q (and gate), k, v, o, q/k norms
    if text.get("attention_bias"):
        full += heads * hd * gate + 2 * kv * hd
    linear = 0
    if shape.hybrid:
        nk, nv = int(text["linear_num_key_heads"]), int(text["linear_num_value_heads"])
        dk, dv = int(text["linear_key_head_dim"]), int(text["linear_value_head_dim"])
        conv_dim = 2 * nk * dk + nv * dv
        linear = (h * conv_dim + h * nv * dv + 2 * h * nv  # in_proj_qkv, in_proj_z, in_proj_b, in_proj_a
                  + conv_dim * int(text.get("linear_conv_kernel_dim", 4))  # depthwise conv, no bias
                  + 2 * nv + dv + nv * dv * h)  # dt_bias, A_log, gated norm, out_proj
    if text.get("num_experts"):
        experts, inner = int(text["num_experts"]), int(text["moe_intermediate_size"])
        mlp = h * experts + experts * 3 * h * inner
        shared = int(text.get("shared_expert_intermediate_size") or 0)
        if shared:
            mlp += 3 * h * shared + h  # the shared expert and its gate
    else:
        mlp = 3 * h * int(text["intermediate_size"])
    total = shape.full_layers * full + (shape.layers - shape.full_layers) * linear + shape.layers * (mlp + 2 * h)
    total += vocab * h * (1 if tied else 2) + h
    mtp_layers = int(text.get("mtp_num_hidden_layers") or 0) if mtp else 0
    if mtp_layers:  # each a full-attention decoder layer; once, the fc joining embedding and hidden, three norms
        total += mtp_layers * (full + mlp + 2 * h) + 2 * h * h + 3 * h
    return total + _vision_params(config.get("vision_config") or {})


def _vision_params(v: dict) -> int:
    if not v:
        return 0
    d, inner, out = int(v["hidden_size"]), int(v["intermediate_size"]), int(v["out_hidden_size"])
    ps, tps = int(v.get("patch_size", 16)), int(v.get("temporal_patch_size", 2))
    merge = int(v.get("spatial_merge_size", 2))
    merged = d * merge * merge
    block = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * inner + inner) + (inner * d + d)
    total = 3 * tps * ps * ps * d + d + int(v.get("num_position_embeddings", 2304)) * d + int(v["depth"]) * block
    merger = (merged * merged + merged) + (merged * out + out)
    total += merger + 2 * d  # the final merger normalises each patch before the shuffle
    total += len(v.get("deepstack_visual_indexes") or ()) * (merger + 2 * merged)  # Qwen3-VL's deepstack mergers
    return total


# With prefix caching a hybrid model's linear-attention state is kept in vLLM's "align" mode: two state blocks per
# running request, the one being written and the last one cached (vllm/v1/kv_cache_interface.py,
# MambaSpec.max_memory_usage_bytes). vLLM 0.32 (the pinned version) turns prefix caching on for Qwen3.5 by default;
# 0.26 left it off (seen on the GPU machine: enable_prefix_caching=False, one state block per request). Versions
# between were not seen and are taken to be as 0.32.
STATE_COPIES = 2


def state_copies(vllm: str | None) -> int:
    """State blocks per request for the installed vLLM (``name==version``, vllm_flags.installed_vllm; None: the
    pinned one)."""
    try:
        version = tuple(int(p) for p in (vllm or "").split("==")[1].split(".")[:2])
    except (IndexError, ValueError):
        return STATE_COPIES
    return 1 if version < (0, 27) else STATE_COPIES


def footprint_of(config: dict, weights_bytes: int | None = None, copies: int = STATE_COPIES) -> ModelFootprint:
    """The device plan's view of a model: its weights (``weights_bytes``, or bf16 of :func:`count_params`), KV per
    token of its full-attention layers, and the fixed state of its linear ones (``copies`` per request)."""
    shape = text_shape(config)
    weights = weights_bytes if weights_bytes is not None else 2 * count_params(config)
    return ModelFootprint(weights_gib=weights / GIB, kv_bytes_per_token=shape.kv_bytes_per_token,
                          num_kv_heads=shape.kv_heads, num_attention_heads=shape.attention_heads,
                          state_bytes_per_sequence=copies * shape.state_bytes)


def footprint_of_dir(folder: str | Path) -> ModelFootprint:
    """The footprint of a checkpoint folder: its config, and its weights as the size of its safetensors files, for
    the installed vLLM."""
    folder = Path(folder)
    weights = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    return footprint_of(json.loads((folder / "config.json").read_text()), weights, state_copies(installed_vllm()))


@dataclass(frozen=True)
class ModelCard:
    """A checkpoint as the app uses it."""

    architecture: str
    family: str
    thinking: Thinking
    footprint: ModelFootprint
    sampling: dict = field(default_factory=dict)  # generation_config.json's temperature, top_p, top_k, ...

    def describe(self) -> str:
        how = {"never": "", "always": ", thinks", "switch": ", thinking on request"}[self.thinking]
        hybrid = ", hybrid attention" if self.footprint.state_bytes_per_sequence else ""
        return f"{self.family}{hybrid}{how}"


def thinking_of(template: str) -> Thinking:
    """``switch`` when the chat template reads ``enable_thinking`` (Qwen3.5, Qwen3), ``always`` when its generation
    prompt opens ``<think>`` without one (Qwen3-VL-*-Thinking), else ``never``."""
    if "enable_thinking" in template:
        return "switch"
    return "always" if opens_think(template) else "never"


SAMPLING_KEYS = ("temperature", "top_p", "top_k", "presence_penalty")  # what GenerationParams sends


def read_card(folder: str | Path, name: str | None = None) -> ModelCard:
    """The card of a checkpoint folder; :class:`ModelCardError` when its model is not a Qwen vision model this demo
    serves (``name``: what the user passed, for the sentence)."""
    folder = Path(folder)
    name = name or folder.name
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelCardError(f"{name}: its config.json cannot be read ({exc}).") from exc
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in FAMILIES:
        supported = ", ".join(sorted(set(FAMILIES.values())))
        if not config.get("vision_config"):
            raise ModelCardError(
                f"{name} is a text-only model ({arch}): this demo answers about images and videos, so it needs a "
                f"Qwen vision model ({supported}), e.g. --model Qwen/Qwen3-VL-4B-Instruct or Qwen/Qwen3.5-4B.")
        raise ModelCardError(
            f"{name} is a vision model this demo does not serve ({arch}): it reads boxes and video times the way "
            f"the Qwen3-VL family writes them. Supported: {supported}.")
    generation: dict = {}
    try:
        generation = json.loads((folder / "generation_config.json").read_text())
    except (OSError, ValueError):
        pass
    sampling = {k: generation[k] for k in SAMPLING_KEYS if isinstance(generation.get(k), (int, float))}
    try:
        footprint = footprint_of_dir(folder)
    except (KeyError, TypeError, ValueError) as exc:  # a supported architecture, but a config without its sizes
        raise ModelCardError(f"{name}: its config.json lacks what the app reads of a {FAMILIES[arch]} model "
                             f"({type(exc).__name__}: {exc}). Download it again, or pass a complete copy.") from exc
    return ModelCard(arch, FAMILIES[arch], thinking_of(chat_template(folder)), footprint, sampling)

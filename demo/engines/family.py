"""The Qwen vision family as published: each model's config figures that the device plan needs, so that
``python -m demo.plan --model Qwen/Qwen3.5-9B`` (and ``--family``) can plan for a model not downloaded yet.

A downloaded or local checkpoint is always read from its own files (demo/engines/model_card.py); this table is
only for planning ahead. The figures are the models' ``config.json`` values as quoted in public code (config
mirrors, vLLM and inference-engine test fixtures) in December 2026; the parameter counts the plan uses are
computed from them (:func:`demo.engines.model_card.count_params`), and tests/unit/test_model_card.py checks that
computation against the published counts where they were found (Qwen3-VL-2B and 4B, Qwen3.5-0.8B, 2B, 4B, 9B,
27B, 35B-A3B). Where a figure was not found it is marked below with what stands in for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownModel:
    config: dict  # config.json as the plan reads it (text_config, vision_config, tie_word_embeddings)
    published_params: int | None = None  # as published (safetensors metadata / the hub's count), when found


def _vision(depth: int, hidden: int, inner: int, heads: int, out: int, deepstack: list[int]) -> dict:
    return {"depth": depth, "hidden_size": hidden, "intermediate_size": inner, "num_heads": heads,
            "out_hidden_size": out, "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2,
            "num_position_embeddings": 2304, "deepstack_visual_indexes": deepstack}


Vit = tuple[int, int, int, int]  # a vision tower's depth, width, MLP width, heads
SMALL_VIT: Vit = (24, 1024, 4096, 16)  # Qwen3-VL 2B/4B, Qwen3.5-4B
LARGE_VIT: Vit = (27, 1152, 4304, 16)  # Qwen3-VL 8B and up, Qwen3.5-9B and up


def _qwen3_vl(h: int, inner: int, layers: int, heads: int, kv: int, tied: bool, vit: Vit, deepstack: list[int],
              **moe) -> dict:
    text = {"hidden_size": h, "intermediate_size": inner, "num_hidden_layers": layers, "num_attention_heads": heads,
            "num_key_value_heads": kv, "head_dim": 128, "vocab_size": 151936, **moe}
    return {"architectures": ["Qwen3VLMoeForConditionalGeneration" if moe else "Qwen3VLForConditionalGeneration"],
            "tie_word_embeddings": tied, "text_config": text, "vision_config": _vision(*vit, h, deepstack)}


def _qwen35(h: int, inner: int | None, layers: int, heads: int, kv: int, linear_v: int, tied: bool, vit: Vit,
            **moe) -> dict:
    text = {"hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
            "head_dim": 256, "vocab_size": 248320, "full_attention_interval": 4, "attn_output_gate": True,
            "linear_num_key_heads": 16, "linear_num_value_heads": linear_v, "linear_key_head_dim": 128,
            "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4,
            # seen for 9B; the others are taken to keep their recurrent state in float32 too
            "mamba_ssm_dtype": "float32", "mtp_num_hidden_layers": 1, **moe}
    if inner is not None:
        text["intermediate_size"] = inner
    return {"architectures": ["Qwen3_5MoeForConditionalGeneration" if moe else "Qwen3_5ForConditionalGeneration"],
            "tie_word_embeddings": tied, "text_config": text, "vision_config": _vision(*vit, h, [])}


_VL = {
    "2B": KnownModel(_qwen3_vl(2048, 6144, 28, 16, 8, True, SMALL_VIT, [5, 11, 17]), 2_127_532_032),
    "4B": KnownModel(_qwen3_vl(2560, 9728, 36, 32, 8, True, SMALL_VIT, [5, 11, 17]), 4_437_815_808),
    "8B": KnownModel(_qwen3_vl(4096, 12288, 36, 32, 8, False, LARGE_VIT, [8, 16, 24])),
    "32B": KnownModel(_qwen3_vl(5120, 25600, 64, 64, 8, False, LARGE_VIT, [8, 16, 24])),
    "30B-A3B": KnownModel(_qwen3_vl(2048, 6144, 48, 32, 4, False, LARGE_VIT, [8, 16, 24], num_experts=128,
                                    num_experts_per_tok=8, moe_intermediate_size=768)),
}
KNOWN: dict[str, KnownModel] = {}
for _size, _model in _VL.items():
    for _edition in ("Instruct", "Thinking"):  # the Thinking editions share their Instruct's dimensions
        KNOWN[f"Qwen/Qwen3-VL-{_size}-{_edition}"] = _model
KNOWN.update({
    "Qwen/Qwen3.5-0.8B": KnownModel(_qwen35(1024, 3584, 24, 8, 2, 16, True, (12, 768, 3072, 12)), 873_438_784),
    # 2B's vision tower was not found quoted: 4B's stands in (the published count says it is close)
    "Qwen/Qwen3.5-2B": KnownModel(_qwen35(2048, 6144, 24, 8, 2, 16, True, SMALL_VIT), 2_274_069_824),
    "Qwen/Qwen3.5-4B": KnownModel(_qwen35(2560, 9216, 32, 16, 4, 32, True, SMALL_VIT), 4_659_865_088),
    "Qwen/Qwen3.5-9B": KnownModel(_qwen35(4096, 12288, 32, 16, 4, 32, False, LARGE_VIT), 9_653_104_368),
    "Qwen/Qwen3.5-27B": KnownModel(_qwen35(5120, 17408, 64, 24, 4, 48, False, LARGE_VIT), 27_781_427_952),
    "Qwen/Qwen3.5-35B-A3B": KnownModel(_qwen35(2048, None, 40, 16, 2, 32, False, LARGE_VIT, num_experts=256,
                                               num_experts_per_tok=8, moe_intermediate_size=512,
                                               shared_expert_intermediate_size=512), 35_951_822_704),
})

"""A tiny, random-weight checkpoint of Qwen3.5's real architecture (``--model tiny-qwen3.5``), built offline.

Qwen3.5 (February 2026) is natively multimodal on a hybrid text model: three Gated DeltaNet (linear attention)
layers to each full-attention layer (``full_attention_interval`` 4), M-RoPE on a quarter of each head
(``partial_rotary_factor`` 0.25), the same vision tokens, processors and 0-1000 boxes as Qwen3-VL, and a chat
template that thinks by default and stops thinking when a request's ``chat_template_kwargs`` say
``enable_thinking: false``. This build keeps all of that with sizes vLLM's CPU build serves:

* four layers, the real pattern (three linear, one full); heads of 64 dims, linear ones too: vLLM 0.32's CPU
  kernel for the linear attention (``chunk_gated_delta_rule_cpu``) refuses other sizes ("Unexpected head dim
  size, 32", seen), and CPU attention needs 64 (shared/TESTBED.md);
* ``mrope_section`` [3, 3, 2]: it sums to the rotary half (64 x 0.25 / 2 = 8), as Qwen3.5's [11, 11, 10] does
  for its 256-dim heads;
* the tokenizer of the tiny Qwen3-VL with Qwen's ``<think>``/``</think>``/``<tool_call>`` tokens, and the real
  template's switch (:data:`CHAT_TEMPLATE`);
* thinking that ends: random weights would think until ``max_tokens``. One hidden dimension carries a constant
  (every embedding writes it, no layer or vision merger writes over it) that only ``</think>``'s output row
  reads, so ``</think>`` comes about once in :data:`THINK_END_EVERY` tokens; ``<think>`` and the tool-call
  tokens read it negatively and never come. A later ``</think>`` in the answer is dropped by vLLM's qwen3
  parser (and the worker's splitter), as for the real models.

Answers are random text: tests assert structure, never wording.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .tiny_checkpoint import (
    IMAGE_PROCESSOR,
    MERGE_SIZE,
    PARTS,
    PATCH_SIZE,
    SPECIAL_TOKENS,
    TEMPORAL_PATCH,
    VIDEO_PROCESSOR,
    build_tokenizer,
    ensure_built,
)

RECIPE_VERSION = 1
FOLDER_NAME = f"tiny-qwen3.5-v{RECIPE_VERSION}"
NAME = "tiny-qwen3.5"

# The structure of Qwen3.5's chat template: content rendered as Qwen3-VL's (images and videos as vision pads),
# an assistant turn's reasoning dropped from turns before the last question, and the generation prompt opening
# '<think>\n' unless `enable_thinking` is false, when it writes an empty thinking block instead (the model then
# answers at once). Left out: tools (the app sends none).
CHAT_TEMPLATE = (
    "{%- set image_count = namespace(value=0) -%}{%- set video_count = namespace(value=0) -%}"
    "{%- macro render_content(content) -%}"
    "{% if content is string %}{{ content }}"
    "{% else %}{% for part in content %}"
    + PARTS +
    "{%- endmacro -%}"
    "{%- for message in messages -%}"
    "{%- set content = render_content(message['content']) -%}"
    "{%- if message['role'] == 'assistant' and '</think>' in content -%}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}"
    "{%- endif -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- else -%}{{- '<think>\\n' -}}{%- endif -%}"
    "{%- endif -%}"
)

# '</think>' about once in this many tokens while the model thinks (and, dropped, in its answer)
THINK_END_EVERY = 12
TOP_K = 20  # the page's default top-k (generation_config.json below)


def _config(tokenizer):
    from transformers import Qwen3_5Config

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = ((len(tokenizer) + 63) // 64) * 64
    return Qwen3_5Config(
        text_config={
            "vocab_size": vocab, "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 64,
            "linear_key_head_dim": 64, "linear_value_head_dim": 64, "linear_num_key_heads": 2,
            "linear_num_value_heads": 4, "linear_conv_kernel_dim": 4,
            "max_position_embeddings": 32768, "dtype": "bfloat16",
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000000.0, "partial_rotary_factor": 0.25,
                                "mrope_section": [3, 3, 2], "mrope_interleaved": True},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={
            "depth": 2, "hidden_size": 128, "intermediate_size": 256, "num_heads": 2,
            "patch_size": PATCH_SIZE, "spatial_merge_size": MERGE_SIZE, "temporal_patch_size": TEMPORAL_PATCH,
            "out_hidden_size": 128, "num_position_embeddings": 2304,
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False, dtype="bfloat16",
    )


def _end_thinking_sometimes(model, tokenizer) -> None:
    """Give '</think>' about 1 / THINK_END_EVERY of each next token among the top-k sampled from, '<think>' and the
    tool-call tokens none (see the module's docstring). The constant's size after the final norm and the other
    logits are measured on a forward pass, so the logit given is the one wanted whatever the random layers do."""
    import math

    import torch

    text = model.model.language_model
    one = text.config.hidden_size - 1
    with torch.no_grad():
        for layer in text.layers:
            mixer = layer.linear_attn.out_proj if hasattr(layer, "linear_attn") else layer.self_attn.o_proj
            mixer.weight[one, :] = 0
            layer.mlp.down_proj.weight[one, :] = 0
        model.model.visual.merger.linear_fc2.weight[one, :] = 0
        model.model.visual.merger.linear_fc2.bias[one] = 0
        text.embed_tokens.weight[:, one] = 0.1
        model.lm_head.weight[:, one] = 0
        ids = tokenizer("Describe this image. The man walks along the road.", return_tensors="pt").input_ids
        logits = model(input_ids=ids).logits[0].float()  # '</think>' reads nothing yet: a random logit like the rest
        hidden = text(input_ids=ids).last_hidden_state[0, :, one].float().mean().item()  # after the final norm
        # Sampling keeps the top 20 tokens (TOP_K, the page's default): '</think>' should be one in THINK_END_EVERY of
        # those, so its logit is the log of the other 19's summed weight, less log(THINK_END_EVERY - 1).
        top = logits.topk(TOP_K - 1, dim=-1).values.logsumexp(dim=-1).mean().item()
        want = top - math.log(THINK_END_EVERY - 1)
        end = tokenizer.convert_tokens_to_ids("</think>")
        model.lm_head.weight[end, one] = want / hidden
        never = [tokenizer.convert_tokens_to_ids(t) for t in ("<think>", "<tool_call>", "</tool_call>")]
        model.lm_head.weight[never, one] = -20 / hidden


def _write(target: Path) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLImageProcessor,
        Qwen3_5ForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    tokenizer = build_tokenizer(thinking=True)
    config = _config(tokenizer)
    torch.manual_seed(0)
    model = Qwen3_5ForConditionalGeneration(config).to(torch.bfloat16)
    _end_thinking_sometimes(model, tokenizer)
    model.save_pretrained(target, safe_serialization=True)
    common = {"patch_size": PATCH_SIZE, "temporal_patch_size": TEMPORAL_PATCH, "merge_size": MERGE_SIZE,
              "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common, **IMAGE_PROCESSOR), tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(**common, **VIDEO_PROCESSOR), chat_template=CHAT_TEMPLATE,
    ).save_pretrained(target)
    # sampling defaults unlike Qwen3-VL-Instruct's, so that the tests see them read from the checkpoint
    # (demo/engines/model_card.py)
    GenerationConfig(
        bos_token_id=config.text_config.bos_token_id, eos_token_id=[config.text_config.eos_token_id],
        pad_token_id=tokenizer.pad_token_id, do_sample=True, temperature=1.0, top_p=0.95, top_k=TOP_K,
    ).save_pretrained(target)
    recipe = {"recipe_version": RECIPE_VERSION, "flavour": "qwen3.5",
              "note": "random weights; answers are meaningless; thinking ends now and then by design"}
    (target / "TINY_CHECKPOINT.json").write_text(json.dumps(recipe, indent=2))


def ensure_tiny_qwen35(cache_dir: str | os.PathLike) -> Path:
    """The tiny Qwen3.5 checkpoint's folder under ``cache_dir``, built first if it is not there."""
    return ensure_built(Path(cache_dir).expanduser() / FOLDER_NAME, _write)


if __name__ == "__main__":
    import sys

    print(ensure_tiny_qwen35(sys.argv[1] if len(sys.argv) > 1 else "~/.cache/qwen3-vl-demo"))

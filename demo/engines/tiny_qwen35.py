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
* thinking that ends: random weights would think until ``max_tokens``. Hidden dimensions that no layer writes
  over give ``</think>`` a logit a little below the likeliest token's (sampled answers end their thinking after
  a few tens of tokens), never right after the prompt's ``<think>\n`` (a thinking answer always has some
  reasoning), and keep ``<think>`` and the tool-call tokens out. A later ``</think>`` in the answer is dropped by
  vLLM's qwen3 parser (and the worker's splitter), as for the real models.

Answers are random text: tests assert structure, never wording.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .tiny_checkpoint import (
    IMAGE_PROCESSOR,
    MERGE_SIZE,
    PATCH_SIZE,
    SPECIAL_TOKENS,
    TEMPORAL_PATCH,
    THINKING_TURNS,
    VIDEO_PROCESSOR,
    build_tokenizer,
    ensure_built,
)

RECIPE_VERSION = 2
FOLDER_NAME = f"tiny-qwen3.5-v{RECIPE_VERSION}"

# The structure of Qwen3.5's chat template: content rendered as Qwen3-VL's (images and videos as vision pads),
# an assistant turn's reasoning dropped from turns before the last question, and the generation prompt opening
# '<think>\n' unless `enable_thinking` is false, when it writes an empty thinking block instead (the model then
# answers at once). Left out: tools (the app sends none).
CHAT_TEMPLATE = (
    THINKING_TURNS
    + "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- else -%}{{- '<think>\\n' -}}{%- endif -%}"
    "{%- endif -%}"
)

TOP_K = 20  # the page's default top-k (generation_config.json below)
# '</think>''s logit below the likeliest token's, on average. Measured with transformers on 8 questions, 3 sampled
# answers each (the page's defaults, 120 tokens): the first '</think>' came after 1 to 102 tokens in 21 of 24, and
# greedy answers wrote it 9 times in 384 tokens; 1.0 gave none at all, 0.2 one in 4 of greedy tokens.
BELOW_BEST = 0.4


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
    """'</think>' now and then, never first, and never '<think>' or the tool-call tokens (see the module's docstring).

    Two hidden dimensions that no layer and no vision merger writes, so they hold what the embeddings put there:
    a constant (every token), which '</think>''s output row reads to get a logit a little below the likeliest
    token's (its size after the final norm and the other logits are measured on a forward pass); and "a line
    break" (every token with a newline in it), which '</think>' and the end token read negatively: the prompt's
    '<think>\n' (or, thinking off, its '</think>\n\n') is never followed by either, so a thinking answer always
    has some reasoning and any answer some text.
    """
    import torch

    text = model.model.language_model
    one, newline = text.config.hidden_size - 1, text.config.hidden_size - 2
    ours = [newline, one]
    with torch.no_grad():
        for layer in text.layers:
            mixer = layer.linear_attn.out_proj if hasattr(layer, "linear_attn") else layer.self_attn.o_proj
            mixer.weight[ours, :] = 0
            layer.mlp.down_proj.weight[ours, :] = 0
        model.model.visual.merger.linear_fc2.weight[ours, :] = 0
        model.model.visual.merger.linear_fc2.bias[ours] = 0
        emb = text.embed_tokens.weight
        emb[:, ours] = 0
        emb[:, one] = 0.1
        breaks = [i for t, i in tokenizer.get_vocab().items() if "\u010a" in t]  # ByteLevel's '\n'
        emb[breaks, newline] = 0.1
        model.lm_head.weight[:, ours] = 0
        ids = tokenizer("Describe this image. The man walks along the road.", return_tensors="pt").input_ids
        logits = model(input_ids=ids).logits[0].float()  # '</think>' reads nothing yet: a random logit like the rest
        hidden = text(input_ids=ids).last_hidden_state[0, :, one].float().mean().item()  # after the final norm
        # A logit a little below the likeliest token's: sampling from the top TOP_K (the page's default) picks it now
        # and then; greedy decoding seldom does.
        want = logits.max(dim=-1).values.mean().item() - BELOW_BEST
        end = tokenizer.convert_tokens_to_ids("</think>")
        model.lm_head.weight[end, one] = want / hidden
        model.lm_head.weight[end, newline] = -40 / hidden
        # nor the end of the answer: every answer has a first token of reasoning (thinking) or of text (not)
        model.lm_head.weight[tokenizer.convert_tokens_to_ids("<|im_end|>"), newline] = -40 / hidden
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

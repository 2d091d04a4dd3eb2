"""Build a tiny, random-weight checkpoint of the real Qwen3-VL architecture, offline, in seconds.

No weights can be downloaded on CI machines, yet every test must run the real engine. This checkpoint keeps
every real code path (config, tokenizer with Qwen's special tokens, chat template, image and video processors,
safetensors, vision tower, M-RoPE, vLLM's Qwen3-VL model) with sizes that vLLM's CPU build accepts
(shared/TESTBED.md: CPU attention needs ``head_dim=64``; ``mrope_section`` sums to ``head_dim/2``).
Its answers are random text: tests assert structure, never wording.

A thinking flavour (``ensure_tiny_checkpoint(cache_dir, thinking=True)``, ``--model tiny-thinking``) stands in for
Qwen3-VL-*-Thinking: Qwen's ``<think>``/``</think>``/``<tool_call>``/``</tool_call>`` as single tokens, the Thinking
template (the generation prompt opens ``<think>``), and weights tweaked so that its thinking ends soon (see
:func:`_end_thinking_soon`). The plain build is unchanged by it: its folder, version and bytes stay as they were.

The build is deterministic (fixed seed, fixed corpus) and atomic (built in a temporary folder, then renamed),
so concurrent builds and reruns are safe and a half-built folder is never used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

# Bump when anything below changes what is built: the folder name carries it, so old builds are not reused.
RECIPE_VERSION = 2
FOLDER_NAME = f"tiny-qwen3-vl-v{RECIPE_VERSION}"

# Qwen's special tokens, in Qwen's order (the ids differ: this vocabulary is tiny).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]

# One message's parts: images and videos become <|vision_start|><|image_pad|><|vision_end|> (resp. <|video_pad|>),
# which the processors expand; text as it is.
PARTS = (
    "{% if part['type'] == 'image' or part['type'] == 'image_url' or 'image' in part %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or part['type'] == 'video_url' or 'video' in part %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
)
# The structure of Qwen3-VL-Instruct's chat template.
CHAT_TEMPLATE = (
    "{%- set image_count = namespace(value=0) -%}{%- set video_count = namespace(value=0) -%}"
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    + PARTS +
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Thinking flavour. Qwen's tokenizer has these as added tokens that are not special (so vLLM's detokenizer keeps
# them in the text), in this order (ids 151657, 151658, 151667, 151668 there); vLLM 0.32's qwen3 parser looks
# <think>, </think>, <tool_call> and </tool_call> up as single token ids (vllm/parser/qwen3.py token_id_terminals).
THINKING_RECIPE_VERSION = 2
THINKING_FOLDER_NAME = f"tiny-qwen3-vl-thinking-v{THINKING_RECIPE_VERSION}"
THINKING_TOKENS = ["<tool_call>", "</tool_call>", "<think>", "</think>"]

# The structure of Qwen3-VL-*-Thinking's chat template (Qwen/Qwen3-VL-4B-Thinking chat_template.json, as copied
# verbatim into other projects, e.g. an LM Studio per-model config found by searching for its
# "macro render_content(content, do_vision_count)"): content rendered by a macro (images and videos as in
# CHAT_TEMPLATE); for an assistant turn, `reasoning_content` or the text before '</think>' is the reasoning,
# `content.split('</think>')[-1].lstrip('\n')` the answer, and only the answer is kept for turns before the last
# user query; the generation prompt is '<|im_start|>assistant\n<think>\n'. Left out: tools, and the reasoning
# of tool-call steps after the last query (the app sends neither).
# The turns of a thinking template (Qwen3-VL-Thinking's, Qwen3.5's): an assistant turn keeps only its answer.
THINKING_TURNS = (
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
)
THINKING_CHAT_TEMPLATE = THINKING_TURNS + "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}"

# The real model's processor sizes (Qwen/Qwen3-VL-4B-Instruct's preprocessor configs).
IMAGE_PROCESSOR = {"size": {"longest_edge": 16777216, "shortest_edge": 65536}}
VIDEO_PROCESSOR = {"size": {"longest_edge": 25165824, "shortest_edge": 4096}}
PATCH_SIZE, MERGE_SIZE, TEMPORAL_PATCH = 16, 2, 2


def _corpus() -> list[str]:
    """Fixed English text so the BPE merges are the same on every machine."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # `import this` prints the Zen of Python
        import this
    zen = "".join(this.d.get(c, c) for c in this.s)
    extra = (
        "The man walks along the road with a red bag. A cat sits on the table near the window. "
        "Describe this image. Describe this video. What is the person going to do next? "
        "0 1 2 3 4 5 6 7 8 9 10 100 seconds frames colour picture camera street light tree sky water. "
        "Reverse every character of 'I love Qwen3-VL-4B-Instruct'."
    )
    return [zen, extra] * 4


def build_tokenizer(thinking: bool = False):
    """The tiny checkpoint's tokenizer, built offline (its chat template and special tokens are the real ones)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    if thinking:  # after training: the BPE merges, and so the plain build, stay the same
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINKING_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[3:],
    )


def _build_config(tokenizer):
    from transformers import Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = ((len(tokenizer) + 63) // 64) * 64
    return Qwen3VLConfig(
        text_config={
            "vocab_size": vocab, "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 64,
            "max_position_embeddings": 32768, "dtype": "bfloat16",
            "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0,
                                "mrope_section": [12, 10, 10], "mrope_interleaved": True},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={
            "depth": 2, "hidden_size": 128, "intermediate_size": 256, "num_heads": 2,
            "patch_size": PATCH_SIZE, "spatial_merge_size": MERGE_SIZE, "temporal_patch_size": TEMPORAL_PATCH,
            "out_hidden_size": 128, "num_position_embeddings": 2304, "deepstack_visual_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False, dtype="bfloat16",
    )


# Of the tiny model's ordinary tokens, every ENDS_EVERY-th one ends the thinking: right after it, '</think>' is by
# far the likeliest next token (see _end_thinking_soon).
ENDS_EVERY = 8


def _end_thinking_soon(model, tokenizer) -> None:
    """Make random weights end their thinking within a few tens of tokens, once, then write an answer.

    Random weights give a near-uniform next token, and '</think>' (one of ~1000) would come after hundreds. Four
    hidden dimensions (the last four) are given over to two signals that only '</think>' reads (its lm_head row;
    every other row is zero there), written by the embeddings and one attention head, and by nothing else (the
    layers' and the vision mergers' output rows are zero there, so the tweak is the same with images and videos):

    * "ending token" (+0.1 for every ENDS_EVERY-th ordinary token, -0.1 for the others): '</think>' is all but
      certain right after an ending token and all but excluded after any other, so the thinking lasts until the
      model first writes an ending token. The ending tokens also get a small bias (through a constant feature):
      greedy decoding runs in cycles on random weights and may never meet one. A trade-off, measured offline
      with transformers over 20 prompts: bias 0.05 ends 20 of 20 sampled answers (the app's defaults) after 1 to
      21 tokens (on the vLLM server, tests/engine/test_thinking.py: 1 to 11 reasoning tokens, no empty answer)
      but only 11 of 20 greedy ones within 48; 0.1 ended every greedy one within 32, but the sampled
      thinking then lasted 1 to 3 tokens on the server, where vLLM's streamed count of reasoning tokens said 0
      for some. The video worker decodes greedily: its answer may stay all reasoning (the split still holds);
    * "'</think>' came before": the second head of the last layer looks only at a '</think>' (its query is a
      constant feature, the key of '</think>' alone is non-zero, on the slowest RoPE pair so that distance does
      not matter) and copies that into the residual; '</think>' then reads it as a large negative logit, so the
      answer never ends its thinking again (a duplicate that vLLM's qwen3 parser would drop from the answer).
    * "never": '<think>' and the tool-call tokens get a large negative bias (through the constant feature).
    The features are small next to the random ones (embedding std 0.02 per dimension) so the random text stays
    random; the weights that read them are large.
    """
    import torch

    text = model.model.language_model
    hidden, head_dim = text.config.hidden_size, text.config.head_dim
    ending, is_end, one, ended = hidden - 1, hidden - 2, hidden - 3, hidden - 4
    ours = [ended, one, is_end, ending]
    slow = head_dim // 2 - 1  # the RoPE pair with the lowest frequency (rotate_half pairs slow and slow + head_dim/2)
    end = tokenizer.convert_tokens_to_ids("</think>")
    enders = sorted(i for t, i in tokenizer.get_vocab().items()
                    if t not in SPECIAL_TOKENS + THINKING_TOKENS and i % ENDS_EVERY == 0)
    with torch.no_grad():
        for layer in text.layers:
            layer.self_attn.o_proj.weight[ours, :] = 0
            layer.mlp.down_proj.weight[ours, :] = 0
        visual = model.model.visual
        for merger in [visual.merger, *visual.deepstack_merger_list]:
            merger.linear_fc2.weight[ours, :] = 0
            merger.linear_fc2.bias[ours] = 0
        emb = text.embed_tokens.weight
        emb[:, ours] = 0
        emb[:, ending] = -0.1
        emb[enders, ending] = 0.1
        emb[:, one] = 0.1
        emb[end, is_end] = 0.1
        # the last layer's second query head reads only the constant; the (shared) key and a value component read
        # only "is '</think>'"; that head's value component is written to "ended"
        attn = text.layers[-1].self_attn
        attn.q_proj.weight[head_dim:, :] = 0
        attn.q_proj.weight[head_dim + slow, one] = 100.0
        attn.k_proj.weight[slow, :] = 0
        attn.k_proj.weight[slow, is_end] = 100.0
        attn.q_norm.weight[slow] = 4.0  # a score of about 32: the head finds one '</think>' among any context
        attn.v_proj.weight[slow, :] = 0
        attn.v_proj.weight[slow, is_end] = 1.0
        attn.o_proj.weight[ended, head_dim + slow] = 0.1
        model.lm_head.weight[:, ours] = 0
        model.lm_head.weight[enders, one] = 0.05
        model.lm_head.weight[end, ending] = 3.0
        model.lm_head.weight[end, ended] = -5.0
        # never '<think>', '<tool_call>' or '</tool_call>': vLLM's qwen3 parser ends the reasoning at a tool call and
        # then keeps a later '</think>' in the answer (seen once in a video answer: "<tool_call> tab expac</think>")
        never = [tokenizer.convert_tokens_to_ids(t) for t in ("<think>", "<tool_call>", "</tool_call>")]
        model.lm_head.weight[never, one] = -5.0


def _write(target: Path, thinking: bool = False) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLImageProcessor,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    tokenizer = build_tokenizer(thinking)
    config = _build_config(tokenizer)
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration(config).to(torch.bfloat16)
    if thinking:
        _end_thinking_soon(model, tokenizer)
    model.save_pretrained(target, safe_serialization=True)
    common = {"patch_size": PATCH_SIZE, "temporal_patch_size": TEMPORAL_PATCH, "merge_size": MERGE_SIZE,
              "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common, **IMAGE_PROCESSOR),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(**common, **VIDEO_PROCESSOR),
        chat_template=THINKING_CHAT_TEMPLATE if thinking else CHAT_TEMPLATE,
    )
    processor.save_pretrained(target)
    GenerationConfig(
        bos_token_id=config.text_config.bos_token_id, eos_token_id=[config.text_config.eos_token_id],
        pad_token_id=tokenizer.pad_token_id, do_sample=True, temperature=0.7, top_p=0.8, top_k=20,
    ).save_pretrained(target)
    recipe = {"recipe_version": RECIPE_VERSION, "note": "random weights; answers are meaningless"}
    if thinking:
        recipe = {"recipe_version": THINKING_RECIPE_VERSION, "flavour": "thinking",
                  "note": "random weights; answers are meaningless; thinking ends soon by design"}
    (target / "TINY_CHECKPOINT.json").write_text(json.dumps(recipe, indent=2))


def ensure_tiny_checkpoint(cache_dir: str | os.PathLike, thinking: bool = False) -> Path:
    """Return the tiny checkpoint's folder under ``cache_dir`` (the thinking flavour's with ``thinking``),
    building it first if it is not there."""
    name = THINKING_FOLDER_NAME if thinking else FOLDER_NAME
    return ensure_built(Path(cache_dir).expanduser() / name, lambda staging: _write(staging, thinking))


def ensure_built(target: Path, write) -> Path:
    """``target`` once ``write(folder)`` has built it: in a temporary folder beside it, then renamed, so a
    half-built folder is never used and two processes building at once are safe (their builds are identical)."""
    if (target / "TINY_CHECKPOINT.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; the checkpoint is ordinary data
        try:
            staging.rename(target)
        except OSError:  # another process finished first: its build is identical
            if not (target / "TINY_CHECKPOINT.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target

if __name__ == "__main__":
    import sys

    args = [a for a in sys.argv[1:] if a != "--thinking"]
    print(ensure_tiny_checkpoint(args[0] if args else "~/.cache/qwen3-vl-demo", thinking="--thinking" in sys.argv))

"""Build a tiny, random-weight checkpoint of the real Qwen3-VL architecture, offline, in seconds.

No weights can be downloaded on CI machines, yet every test must run the real engine. This checkpoint keeps
every real code path (config, tokenizer with Qwen's special tokens, chat template, image and video processors,
safetensors, vision tower, M-RoPE, vLLM's Qwen3-VL model) with sizes that vLLM's CPU build accepts
(shared/TESTBED.md: CPU attention needs ``head_dim=64``; ``mrope_section`` sums to ``head_dim/2``).
Its answers are random text: tests assert structure, never wording.

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

# The structure of Qwen3-VL-Instruct's chat template: images and videos become
# <|vision_start|><|image_pad|><|vision_end|> (resp. <|video_pad|>), which the processors expand.
CHAT_TEMPLATE = (
    "{%- set image_count = namespace(value=0) -%}{%- set video_count = namespace(value=0) -%}"
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
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
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

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


def _build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
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


def _write(target: Path) -> None:
    import torch
    from transformers import (GenerationConfig, Qwen2VLImageProcessor, Qwen3VLForConditionalGeneration,
                              Qwen3VLProcessor, Qwen3VLVideoProcessor)

    tokenizer = _build_tokenizer()
    config = _build_config(tokenizer)
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(target, safe_serialization=True)
    common = {"patch_size": PATCH_SIZE, "temporal_patch_size": TEMPORAL_PATCH, "merge_size": MERGE_SIZE,
              "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(**common, **IMAGE_PROCESSOR),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(**common, **VIDEO_PROCESSOR),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(target)
    GenerationConfig(
        bos_token_id=config.text_config.bos_token_id, eos_token_id=[config.text_config.eos_token_id],
        pad_token_id=tokenizer.pad_token_id, do_sample=True, temperature=0.7, top_p=0.8, top_k=20,
    ).save_pretrained(target)
    (target / "TINY_CHECKPOINT.json").write_text(json.dumps(
        {"recipe_version": RECIPE_VERSION, "note": "random weights; answers are meaningless"}, indent=2))


def ensure_tiny_checkpoint(cache_dir: str | os.PathLike) -> Path:
    """Return the tiny checkpoint's folder under ``cache_dir``, building it first if it is not there."""
    target = Path(cache_dir).expanduser() / FOLDER_NAME
    if (target / "TINY_CHECKPOINT.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}-", dir=target.parent))
    try:
        _write(staging)
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

    print(ensure_tiny_checkpoint(sys.argv[1] if len(sys.argv) > 1 else "~/.cache/qwen3-vl-demo"))

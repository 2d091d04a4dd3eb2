"""A random-weight checkpoint with Qwen3.5-4B's published dimensions (demo/engines/family.py), for the GPU check of
the device plan (bench/gpu_qwen35/run.sh). Usage: python3 bench/gpu_qwen35/build.py OUT (from the project's root).

The tokenizer is the tiny checkpoints' (with Qwen's thinking tokens), padded to the real 248,320 ids with
decodable filler tokens so that any sampled id detokenizes; the chat template is tiny-qwen3.5's (the real one's
structure, with its thinking switch); the weights are made on the GPU. Random weights rarely write '</think>'
or the end token: answers run to max_tokens, which suits a memory and speed check."""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run by path, from the project's root

import torch
from tokenizers import Tokenizer
from transformers import (
    GenerationConfig,
    PreTrainedTokenizerFast,
    Qwen2VLImageProcessor,
    Qwen3_5Config,
    Qwen3_5ForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from demo.engines import tiny_checkpoint as tc
from demo.engines.family import KNOWN
from demo.engines.tiny_qwen35 import CHAT_TEMPLATE


def padded_tokenizer(size: int) -> PreTrainedTokenizerFast:
    base = tc.build_tokenizer(thinking=True)
    spec = json.loads(base.backend_tokenizer.to_str())
    vocab = spec["model"]["vocab"]
    n = max(max(vocab.values()), max(t["id"] for t in spec["added_tokens"])) + 1
    i = 0
    while n < size:
        word, k = "", i
        while True:
            word = "abcdefghijklmnopqrstuvwxyz"[k % 26] + word
            k //= 26
            if not k:
                break
        i += 1
        if "\u0120w" + word not in vocab:
            vocab["\u0120w" + word] = n
            n += 1
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)), eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", additional_special_tokens=tc.SPECIAL_TOKENS[3:])


def main(out: Path) -> None:
    t0 = time.time()
    real = KNOWN["Qwen/Qwen3.5-4B"].config
    text = dict(real["text_config"])
    tok = padded_tokenizer(text["vocab_size"])
    ids = {t: tok.convert_tokens_to_ids(t) for t in tc.SPECIAL_TOKENS}
    text.update(dtype="bfloat16", max_position_embeddings=262144, rms_norm_eps=1e-6,
                rope_parameters={"rope_type": "default", "rope_theta": 10000000.0, "partial_rotary_factor": 0.25,
                                 "mrope_section": [11, 11, 10], "mrope_interleaved": True},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], tie_word_embeddings=True)
    text.pop("mtp_num_hidden_layers", None)  # transformers' model has no MTP layers; vLLM would not load them
    vision = {k: v for k, v in real["vision_config"].items() if k != "deepstack_visual_indexes"}
    cfg = Qwen3_5Config(text_config=text, vision_config=dict(vision, hidden_act="gelu_pytorch_tanh"),
                        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                        tie_word_embeddings=True, dtype="bfloat16")
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = Qwen3_5ForConditionalGeneration(cfg).to(torch.bfloat16)
    print("params", sum(p.numel() for p in model.parameters()), flush=True)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="5GB")
    del model
    torch.cuda.empty_cache()
    common = {"patch_size": 16, "temporal_patch_size": 2, "merge_size": 2, "image_mean": [0.5] * 3,
              "image_std": [0.5] * 3}
    Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(**common, **tc.IMAGE_PROCESSOR), tokenizer=tok,
                     video_processor=Qwen3VLVideoProcessor(**common, **tc.VIDEO_PROCESSOR),
                     chat_template=CHAT_TEMPLATE).save_pretrained(out)
    GenerationConfig(bos_token_id=ids["<|endoftext|>"], eos_token_id=[ids["<|im_end|>"]], pad_token_id=tok.pad_token_id,
                     do_sample=True, temperature=1.0, top_p=0.95, top_k=20).save_pretrained(out)
    size = sum(p.stat().st_size for p in out.glob("*.safetensors")) / 2**30
    print("built", out, f"{time.time() - t0:.0f} s, {size:.2f} GiB of safetensors", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

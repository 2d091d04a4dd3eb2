"""demo/engines/tiny_checkpoint.py: the recipe version and the chat template, rendered the way transformers and vLLM
do."""

from __future__ import annotations

import pytest

from demo.engines.tiny_checkpoint import CHAT_TEMPLATE, FOLDER_NAME, RECIPE_VERSION, SPECIAL_TOKENS, build_tokenizer

CONVERSATION = [
    {"role": "system", "content": "sys"},
    {"role": "user", "content": [{"type": "image", "image": "photo.png"}, {"type": "text", "text": "hi"}]},
    {"role": "assistant", "content": "yo"},
    {"role": "user", "content": "q"},
]
EXPECTED = (
    "<|im_start|>system\nsys<|im_end|>\n"
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n"
    "<|im_start|>assistant\nyo<|im_end|>\n"
    "<|im_start|>user\nq<|im_end|>\n"
    "<|im_start|>assistant\n"
)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def render(tokenizer, messages, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=CHAT_TEMPLATE, tokenize=False, **kwargs)


def test_recipe_version_names_the_folder():
    assert RECIPE_VERSION == 2
    assert FOLDER_NAME == "tiny-qwen3-vl-v2"


def test_template_keeps_qwens_newlines(tokenizer):
    assert render(tokenizer, CONVERSATION, add_generation_prompt=True) == EXPECTED


def test_template_without_generation_prompt(tokenizer):
    text = render(tokenizer, CONVERSATION, add_generation_prompt=False)
    assert text == EXPECTED.removesuffix("<|im_start|>assistant\n")
    assert text.endswith("q<|im_end|>\n")


def test_openai_image_url_parts_render_like_image_parts(tokenizer):
    openai_style = [dict(m) for m in CONVERSATION]
    openai_style[1] = {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}, {"type": "text", "text": "hi"}]}
    assert render(tokenizer, openai_style, add_generation_prompt=True) == EXPECTED


def test_video_parts_and_vision_ids(tokenizer):
    messages = [{"role": "user", "content": [
        {"type": "video", "video": "clip.mp4"}, {"type": "image", "image": "a.png"},
        {"type": "image", "image": "b.png"}, {"type": "text", "text": "what?"}]}]
    assert render(tokenizer, messages, add_generation_prompt=True) == (
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>"
        "<|vision_start|><|image_pad|><|vision_end|><|vision_start|><|image_pad|><|vision_end|>what?<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert render(tokenizer, messages, add_generation_prompt=False, add_vision_id=True) == (
        "<|im_start|>user\nVideo 1: <|vision_start|><|video_pad|><|vision_end|>"
        "Picture 1: <|vision_start|><|image_pad|><|vision_end|>"
        "Picture 2: <|vision_start|><|image_pad|><|vision_end|>what?<|im_end|>\n")


def test_special_tokens_stay_single_tokens(tokenizer):
    ids = tokenizer(EXPECTED, add_special_tokens=False)["input_ids"]
    image_pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert ids.count(image_pad) == 1
    assert ids.count(im_start) == 5
    assert len({tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}) == len(SPECIAL_TOKENS)
    assert tokenizer.decode(ids) == EXPECTED


# --- the thinking flavour (--model tiny-thinking) ---------------------------------------------------------------
from demo.engines.tiny_checkpoint import (  # noqa: E402
    THINKING_CHAT_TEMPLATE,
    THINKING_FOLDER_NAME,
    THINKING_TOKENS,
    ensure_tiny_checkpoint,
)


@pytest.fixture(scope="module")
def thinking_tokenizer():
    return build_tokenizer(thinking=True)


def test_thinking_flavour_has_its_own_folder():
    assert THINKING_FOLDER_NAME.startswith("tiny-qwen3-vl-thinking-v") and THINKING_FOLDER_NAME != FOLDER_NAME


def test_thinking_tokens_are_single_non_special_ids(thinking_tokenizer, tokenizer):
    ids = [thinking_tokenizer.convert_tokens_to_ids(t) for t in THINKING_TOKENS]
    assert len(set(ids)) == 4 and thinking_tokenizer.unk_token_id not in ids
    for token, token_id in zip(THINKING_TOKENS, ids):
        assert thinking_tokenizer(f"a{token}b", add_special_tokens=False)["input_ids"].count(token_id) == 1
        # kept when special tokens are skipped (vLLM's detokenizer does), as in Qwen's tokenizer
        assert token in thinking_tokenizer.decode(thinking_tokenizer(f"x{token}y")["input_ids"],
                                                  skip_special_tokens=True)
    # the plain build's vocabulary is untouched
    assert len(tokenizer) == len(thinking_tokenizer) - 4
    assert tokenizer.get_vocab().items() <= thinking_tokenizer.get_vocab().items()


def render_thinking(tokenizer, messages, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=THINKING_CHAT_TEMPLATE, tokenize=False, **kwargs)


def test_thinking_template_opens_think_and_drops_earlier_reasoning(thinking_tokenizer):
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "image", "image": "photo.png"}, {"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": "secret plan\n</think>\n\nyo"},
        {"role": "assistant", "content": [{"type": "text", "text": "more plan</think>ho"}]},
        {"role": "user", "content": "q"},
    ]
    assert render_thinking(thinking_tokenizer, messages, add_generation_prompt=True) == (
        "<|im_start|>system\nsys<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n"
        "<|im_start|>assistant\nyo<|im_end|>\n"
        "<|im_start|>assistant\nho<|im_end|>\n"
        "<|im_start|>user\nq<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n")
    plain = [{"role": "user", "content": [{"type": "video", "video": "clip.mp4"}, {"type": "text", "text": "what?"}]}]
    assert render_thinking(thinking_tokenizer, plain, add_generation_prompt=False) == (
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>what?<|im_end|>\n")


def test_thinking_template_is_one_vllm_reads_as_openai_parts():
    """vLLM passes content parts (images) to a template only when it finds a loop over the content."""
    from vllm.renderers.hf import _detect_content_format

    assert _detect_content_format(THINKING_CHAT_TEMPLATE, default="string") == "openai"


def test_thinking_build_ends_its_thinking_soon(tmp_path):
    """Built offline: detected as thinking by its template alone, and sampled text (the app's temperature, top_p
    and top_k; seeded) writes '</think>' soon, once, then more text."""
    import torch
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    from demo.engines.reasoning import choose_parser

    folder = ensure_tiny_checkpoint(tmp_path, thinking=True)
    assert folder.name == THINKING_FOLDER_NAME
    assert choose_parser("auto", "some-local-copy", folder) == "qwen3"
    assert choose_parser("auto", "tiny", ensure_tiny_checkpoint(tmp_path)) is None
    processor = AutoProcessor.from_pretrained(folder)
    model = Qwen3VLForConditionalGeneration.from_pretrained(folder, dtype=torch.bfloat16).eval()
    end = processor.tokenizer.convert_tokens_to_ids("</think>")
    for seed, question in enumerate(("Describe this image.", "hi", "What is the person going to do next?")):
        prompt = processor.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                               add_generation_prompt=True)
        ids = processor.tokenizer(prompt, return_tensors="pt")
        torch.manual_seed(seed)
        out = model.generate(**ids, max_new_tokens=40, do_sample=True, temperature=0.7, top_p=0.8,
                             top_k=20)[0, ids["input_ids"].shape[1]:].tolist()
        assert out.count(end) == 1 and 0 < out.index(end) < len(out) - 1, (question, out)
        # '<think>' and the tool-call tokens are never likely (a tool call would end the parser's reasoning early)
        logits = model(**ids).logits[0, -1].float()
        never = processor.tokenizer.convert_tokens_to_ids(["<think>", "<tool_call>", "</tool_call>"])
        assert (logits[never] < logits.median() - 5).all(), logits[never]  # (about -9: never in the top 20)

"""demo/engines/tiny_checkpoint.py: the recipe version and the chat template, rendered the way transformers and vLLM do."""

from __future__ import annotations

import pytest

from demo.engines.tiny_checkpoint import CHAT_TEMPLATE, FOLDER_NAME, RECIPE_VERSION, SPECIAL_TOKENS, _build_tokenizer

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
    return _build_tokenizer()


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

"""demo/inputs/conversation.py: turns, and their two views: OpenAI messages for the server and the chat box."""

from __future__ import annotations

import base64
import io
import os

import pytest
from PIL import Image

from demo.errors import ImageError
from demo.inputs.conversation import (
    _cached_image_part,
    assistant_turn,
    to_chatbot,
    to_openai,
    turn_images,
    turn_text,
    user_turn,
)

PREFIX = "data:image/jpeg;base64,"


def decode(part: dict) -> Image.Image:
    assert part["type"] == "image_url"
    url = part["image_url"]["url"]
    assert url.startswith(PREFIX)
    return Image.open(io.BytesIO(base64.b64decode(url[len(PREFIX):], validate=True)))


@pytest.fixture
def images(tmp_path) -> dict[str, str]:
    red = tmp_path / "red.png"
    Image.new("RGB", (40, 20), (255, 0, 0)).save(red)
    blue = tmp_path / "blue.jpg"
    Image.new("RGB", (16, 32), (0, 0, 255)).save(blue, quality=95)
    return {"red": str(red), "blue": str(blue)}


# --- turns ----------------------------------------------------------------------------------------------------

def test_user_turn_shapes(images):
    assert user_turn("hello") == {"role": "user", "content": "hello"}
    assert user_turn("what?", [images["red"], images["blue"]]) == {"role": "user", "content": [
        {"type": "image", "path": images["red"]}, {"type": "image", "path": images["blue"]},
        {"type": "text", "text": "what?"}]}
    assert assistant_turn("an answer") == {"role": "assistant", "content": "an answer"}


def test_turn_text():
    assert turn_text(user_turn("plain")) == "plain"
    assert turn_text(user_turn("with image", ["a.png"])) == "with image"
    assert turn_text(assistant_turn("")) == ""
    two_texts = {"role": "user", "content": [{"type": "text", "text": "one "}, {"type": "image", "path": "a.png"},
                                              {"type": "text", "text": "two"}]}
    assert turn_text(two_texts) == "one two"
    assert turn_text({"role": "user", "content": [{"type": "image", "path": "a.png"}]}) == ""


def test_turn_images():
    assert turn_images(user_turn("plain")) == []
    assert turn_images(assistant_turn("x")) == []
    assert turn_images(user_turn("q", ["a.png", "b.jpg", "a.png"])) == ["a.png", "b.jpg", "a.png"]


# --- to_openai ------------------------------------------------------------------------------------------------

def test_to_openai_text_only():
    history = [user_turn("hi"), assistant_turn("hello"), user_turn("how are you?")]
    assert to_openai(history) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how are you?"},
    ]
    assert to_openai([]) == []


def test_to_openai_system_prompt_first_and_stripped():
    messages = to_openai([user_turn("hi")], "  Be brief.\n")
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1:] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_to_openai_blank_system_prompt_is_left_out(blank):
    messages = to_openai([user_turn("hi")], blank)
    assert [m["role"] for m in messages] == ["user"]


def test_to_openai_image_turn_is_data_urls_then_text(images):
    history = [user_turn("compare", [images["red"], images["blue"]]), assistant_turn("red and blue")]
    messages = to_openai(history, "sys")
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    content = messages[1]["content"]
    assert isinstance(content, list) and len(content) == 3
    assert content[2] == {"type": "text", "text": "compare"}
    red, blue = decode(content[0]), decode(content[1])
    assert red.format == blue.format == "JPEG"
    assert red.size == (40, 20) and blue.size == (16, 32)
    r, g, b = red.convert("RGB").getpixel((20, 10))
    assert r > 200 and g < 60 and b < 60
    r, g, b = blue.convert("RGB").getpixel((8, 16))
    assert b > 200 and r < 60 and g < 60
    assert messages[2] == {"role": "assistant", "content": "red and blue"}  # plain text


def test_to_openai_encodes_the_same_image_once(images):
    _cached_image_part.cache_clear()
    history = [user_turn("first", [images["red"]]), assistant_turn("ok"), user_turn("again", [images["red"]])]
    messages = to_openai(history)
    info = _cached_image_part.cache_info()
    assert info.misses == 1
    assert info.hits == 1
    assert messages[0]["content"][0] == messages[2]["content"][0]
    to_openai(history)  # the next turn resends the conversation: no new encoding
    assert _cached_image_part.cache_info().misses == 1
    assert _cached_image_part.cache_info().hits == 3


def test_to_openai_reencodes_a_changed_file(images):
    _cached_image_part.cache_clear()
    path = images["red"]
    to_openai([user_turn("a", [path])])
    Image.new("RGB", (40, 20), (0, 255, 0)).save(path)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # a later mtime, surely
    part = to_openai([user_turn("b", [path])])[0]["content"][0]
    assert _cached_image_part.cache_info().misses == 2
    r, g, b = decode(part).convert("RGB").getpixel((20, 10))
    assert g > 200 and r < 60


def test_an_image_deleted_under_the_conversation_is_a_sentence_without_its_path(tmp_path):
    with pytest.raises(ImageError) as err:
        to_openai([user_turn("q", [str(tmp_path / "gone.png")])])
    assert err.value.code == "image_gone"
    assert str(tmp_path) not in str(err.value) and "gone.png" not in str(err.value)


# --- to_chatbot -----------------------------------------------------------------------------------------------

def test_to_chatbot(images):
    history = [user_turn("look", [images["red"], images["blue"]]), assistant_turn("two images"),
               user_turn("and now?"), assistant_turn("text")]
    assert to_chatbot(history) == [
        {"role": "user", "content": [{"path": images["red"]}, {"path": images["blue"]}]},
        {"role": "user", "content": "look"},  # apart: Gradio sends no edit event for a message with a file
        {"role": "assistant", "content": "two images"},
        {"role": "user", "content": "and now?"},
        {"role": "assistant", "content": "text"},
    ]
    assert to_chatbot([]) == []


def test_to_chatbot_reads_no_files():
    # The chat box only shows paths: a file that is gone does not break the view.
    assert to_chatbot([user_turn("q", ["/nonexistent/x.png"])]) == [
        {"role": "user", "content": [{"path": "/nonexistent/x.png"}]}, {"role": "user", "content": "q"}]

"""demo/outputs/request_snippet.py: "Show request" renders the app's own create() arguments as a script and as curl.

Pure checks of the text: it compiles, names each medium once, quotes what naive quoting breaks, shows nothing of
this server. Running the script and the curl command is done against the real server only
(tests/engine/test_request_script.py, and the page's own "Show request" in tests/app/test_browser_conversations.py).
"""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from demo.engines.client import request_kwargs
from demo.engines.params import GenerationParams
from demo.engines.video_via_server import video_messages
from demo.inputs.images import image_part
from demo.inputs.video_clip import VideoClip
from demo.inputs.video_frames import FramePlan
from demo.outputs.request_snippet import (
    _terminator,
    curl_command,
    describe_media,
    py_literal,
    python_snippet,
    request_body,
)

# Text that breaks naive quoting: quotes of both kinds, triple quotes, a heredoc's own terminator on a line of
# its own, shell syntax, backslashes, unicode, a lone surrogate, and a long paragraph over several lines.
TRICKY = ("It's \"quoted\" and '''triple''' and \"\"\"more\"\"\"\nJSON\n$HOME `id` \\n \\ end\n"
          "日本語 ünïcode ✓ 🎥\n" + "a long line of words " * 12 + "\nlast line\ud800")


def picture(width: int, height: int) -> Image.Image:
    """A picture with detail (a solid colour would make every JPEG alike)."""
    img = Image.new("RGB", (width, height))
    img.putdata([((x * 7) % 256, (y * 3) % 256, (x + y) % 256) for y in range(height) for x in range(width)])
    return img


@pytest.fixture(scope="module")
def chat_kwargs() -> dict:
    first, second = image_part(picture(1024, 768)), image_part(picture(64, 48))
    messages = [
        {"role": "system", "content": "Be brief.\nJSON"},
        {"role": "user", "content": [first, second, {"type": "text", "text": TRICKY}]},
        {"role": "assistant", "content": "Two pictures."},
        {"role": "user", "content": [first, {"type": "text", "text": "And the first one again?"}]},
    ]
    return request_kwargs("Qwen/Qwen3-VL-4B-Instruct", messages, GenerationParams(top_k=-1),
                          json_schema={"type": "object", "properties": {"n": {"type": "integer"}}})


@pytest.fixture(scope="module")
def video_kwargs() -> dict:
    plan = FramePlan(tuple(range(0, 300, 30)), 64, 64, sample_fps=1.0, visual_tokens=80, source_fps=30.0,
                     source_frames=300)
    clip = VideoClip.from_frames([picture(64, 64).rotate(i * 30) for i in range(10)], plan)
    messages, media_io_kwargs = video_messages(clip, "What happens next?", [("What is it?", "A square.")])
    return request_kwargs("Qwen/Qwen3-VL-4B-Instruct", messages, GenerationParams(),
                          media_io_kwargs=media_io_kwargs)


def heredoc_body(command: str) -> str:
    """The text between ``<<'MARKER'`` and the line ``MARKER``."""
    marker = re.search(r"<<'([A-Za-z_0-9]+)'\n", command)
    assert marker, command[:300]
    rest = command[marker.end():].split("\n")
    end = rest.index(marker.group(1))
    return "\n".join(rest[:end])


def test_the_script_compiles(chat_kwargs, video_kwargs):
    for kwargs in (chat_kwargs, video_kwargs, {**chat_kwargs, "stream": False}):
        source = python_snippet(kwargs)
        source.encode("utf-8")  # the page can show it and a person can save it
        compile(source, "request.py", "exec")


def test_the_script_names_each_medium_once_and_says_what_it_was(chat_kwargs, video_kwargs):
    source = python_snippet(chat_kwargs)
    assert "base64," not in source.split("def video_url")[1].split("IMAGE_1 =")[1]  # no data URL in the call
    assert source.count('IMAGE_1 = data_url("image-1.jpg")') == 1
    assert source.count('IMAGE_2 = data_url("image-2.jpg")') == 1
    assert source.count("IMAGE_1}") == 2  # the image of two turns is one variable, used twice
    assert "# IMAGE_1, image: 1024×768 JPEG" in source
    video = python_snippet(video_kwargs)
    comment = next(line for line in video.splitlines() if line.startswith("# VIDEO_1"))
    assert "10 JPEG frames of 64×64" in comment and "30 fps" in comment and "0.00–9.00 s" in comment
    assert "300 frames in all" in comment


def test_describe_media(chat_kwargs, video_kwargs):
    images = describe_media(chat_kwargs)
    assert [(m.name, m.kind, m.size, m.frames) for m in images] == [
        ("IMAGE_1", "image", (1024, 768), 1), ("IMAGE_2", "image", (64, 48), 1)]
    first = chat_kwargs["messages"][1]["content"][0]["image_url"]["url"]
    assert images[0].url == first
    assert images[0].files == (("image-1.jpg", base64.b64decode(first.split(",", 1)[1])),)
    assert images[0].nbytes == len(images[0].files[0][1])
    (video,) = describe_media(video_kwargs)
    assert (video.name, video.kind, video.mime, video.size, video.frames) == ("VIDEO_1", "video", "image/jpeg",
                                                                              (64, 64), 10)
    assert video.fps == 30.0 and video.span == (0.0, 9.0) and video.total_frames == 300
    for _, data in video.files:
        assert Image.open(io.BytesIO(data)).format == "JPEG"
    assert video.nbytes == sum(len(data) for _, data in video.files)
    assert describe_media({"messages": [{"role": "user", "content": "no media"}]}) == []


def test_the_curl_body_is_the_sdks_json_with_placeholders(chat_kwargs):
    command = curl_command(chat_kwargs)
    assert command.startswith('curl -sS -N "${OPENAI_BASE_URL:-http://localhost:8085/v1}/chat/completions"')
    assert '-H "Authorization: Bearer ${OPENAI_API_KEY:-EMPTY}"' in command
    body = json.loads(heredoc_body(command))
    expected = {k: v for k, v in chat_kwargs.items() if k != "extra_body"} | chat_kwargs["extra_body"]
    media = describe_media(chat_kwargs)
    expected = json.loads(json.dumps(expected).replace(media[0].url, media[0].placeholder())
                          .replace(media[1].url, media[1].placeholder()))
    assert body == expected
    assert body["top_k"] == -1 and body["structured_outputs"] == {"json": chat_kwargs["extra_body"]
                                                                  ["structured_outputs"]["json"]}
    assert body["messages"][1]["content"][2]["text"] == TRICKY  # the lone surrogate too, as JSON's escape
    assert "base64" not in command
    command.encode("utf-8")


def test_placeholders_say_kind_and_size(chat_kwargs, video_kwargs):
    image = request_body(chat_kwargs)["messages"][1]["content"][0]["image_url"]["url"]
    size_kb = round(describe_media(chat_kwargs)[0].nbytes / 1000)
    assert image == f"<IMAGE_1: data URL of a 1024×768 JPEG, {size_kb} KB>"
    video = request_body(video_kwargs)["messages"][0]["content"][0]["video_url"]["url"]
    assert re.fullmatch(r"<VIDEO_1: data URL of 10 JPEG frames of 64×64, \d+ (KB|bytes)>", video)
    assert request_body(video_kwargs)["media_io_kwargs"] == video_kwargs["extra_body"]["media_io_kwargs"]
    assert request_body(video_kwargs, placeholders=False)["messages"] == video_kwargs["messages"]


def test_a_message_line_like_the_terminator_does_not_end_the_heredoc(chat_kwargs):
    assert _terminator('{\n  "a": 1\n}') == "JSON"
    assert _terminator("JSON\nJSON_1\n") == "JSON_2"
    command = curl_command(chat_kwargs)  # a system prompt and a message each hold a line "JSON"
    assert json.loads(heredoc_body(command))["messages"][0]["content"] == "Be brief.\nJSON"


def test_no_address_or_key_of_this_machine(chat_kwargs, video_kwargs):
    for kwargs in (chat_kwargs, video_kwargs):
        for text in (python_snippet(kwargs), curl_command(kwargs)):
            assert "127.0.0.1" not in text and "0.0.0.0" not in text
            assert "sk-" not in text and "api_key=\"" not in text
            assert "localhost:8085" in text and "EMPTY" in text


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, False], "b": {"c": "d'\"e", "f": []}},
    ["x" * 150, "two\nlines " * 20, {"nested": [[{"deep": "ü"}]]}],
    {"when": 1e300, "tiny": -0.0, "big": 10**20},
])
def test_python_literals_are_python(value):
    assert eval(py_literal(value)) == value


def test_non_finite_numbers_are_written_as_python_reads_them():
    from demo.outputs.request_snippet import substitute

    text = py_literal(substitute({"t": float("nan"), "u": float("inf"), "v": float("-inf")}, {}))
    result = eval(text)
    assert result["t"] != result["t"] and result["u"] == float("inf") and result["v"] == float("-inf")

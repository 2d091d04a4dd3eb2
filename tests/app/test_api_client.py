"""The public API through ``gradio_client`` against the real page on the real engines (tiny checkpoint)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gradio_client import handle_file

from tests.waits import app_client

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


def test_api_lists_its_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/chat", "/describe_image", "/describe_video", "/ask_video", "/ground"} <= names


def test_chat_streams_and_returns_the_answer_last(client):
    job = client.submit("Reverse every character of 'I love Qwen3-VL'.", api_name="/chat")
    updates = list(job)
    final_stats, final_answer, reasoning = job.result()
    assert reasoning == ""  # an Instruct model: no reasoning (the thinking flavour's are in test_thinking_page.py)
    assert len(updates) >= 3  # streamed: one update per delta, not one blob
    answers = [u[1] for u in updates]
    assert all(len(b) >= len(a) for a, b in zip(answers, answers[1:]))  # the answer only grows
    assert final_answer and final_answer == answers[-1]
    assert "completion tokens" in final_stats and "first token" in final_stats


def test_chat_takes_system_prompt_history_and_settings(client):
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    stats, answer, _ = client.predict("And now?", "You are terse.", history, 0.0, 1.0, -1, 8, 0.0, api_name="/chat")
    assert answer
    completion = int(stats.split(" completion tokens")[0].rsplit(" ", 1)[1])
    assert 1 <= completion <= 8


def test_describe_image(client):
    stats, answer, _ = client.predict(handle_file(str(ASSETS / "coffee.jpg")), "What is in the cup?",
                                      api_name="/describe_image")
    assert answer and "prompt" in stats
    prompt_tokens = int(stats.split(" prompt + ")[0].rsplit(" ", 1)[1])
    assert prompt_tokens > 64  # the picture's visual tokens are in the prompt


def test_describe_video(client):
    stats, answer = client.predict(handle_file(str(ASSETS / "example.mp4")), "Describe this video.", 2.0, 8,
                                   api_name="/describe_video")
    assert answer and "prompt" in stats


def prompt_tokens(stats: str) -> int:
    return int(re.search(r"(\d+) prompt \+", stats).group(1))


def test_ground_returns_the_boxes_as_json_and_the_image_drawn_at_its_size(client):
    from PIL import Image

    found, drawn = client.predict(handle_file(str(ASSETS / "coffee.jpg")), "cup", "boxes", api_name="/ground")
    assert isinstance(found, list) and 1 <= len(found) <= 20  # held to the schema: at least one
    for item in found:
        assert set(item) == {"bbox_2d", "label"} and len(item["bbox_2d"]) == 4
        assert all(isinstance(v, int) and 0 <= v <= 1000 for v in item["bbox_2d"])
    with Image.open(drawn) as picture, Image.open(ASSETS / "coffee.jpg") as original:
        assert picture.size == original.size


def test_ask_video_takes_the_earlier_turns(client):
    clip = handle_file(str(ASSETS / "example.mp4"))
    alone, _ = client.predict(clip, "What happens next?", [], 2.0, 8, 0.0, 1.0, -1, 4, 0.0, api_name="/ask_video")
    history = [{"role": "user", "content": "Describe this video."},
               {"role": "assistant", "content": "A rocket stands on its launch pad at dusk."}]
    after, answer = client.predict(clip, "What happens next?", history, 2.0, 8, 0.0, 1.0, -1, 4, 0.0,
                                   api_name="/ask_video")
    assert "completion tokens" in after
    assert prompt_tokens(after) > prompt_tokens(alone) + 10  # the earlier turns are in the prompt
    with pytest.raises(Exception) as info:
        client.predict(clip, "q", [history[1]], api_name="/ask_video")
    assert "history must alternate" in str(info.value) and "Traceback" not in str(info.value)


def test_ground_without_a_phrase_is_a_sentence(client):
    with pytest.raises(Exception) as info:
        client.predict(handle_file(str(ASSETS / "coffee.jpg")), "   ", "boxes", api_name="/ground")
    assert "Type what to find in the image" in str(info.value) and "Traceback" not in str(info.value)


@pytest.mark.parametrize("endpoint,args,expected", [
    ("/chat", ("   ",), "Please type a message."),
    ("/chat", ("hi", "", "not a list"), "history must be a list"),
])
def test_errors_come_back_as_sentences(client, endpoint, args, expected):
    with pytest.raises(Exception) as info:
        client.predict(*args, api_name=endpoint)
    assert expected in str(info.value)
    assert "Traceback" not in str(info.value)


def test_a_text_file_is_not_an_image(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("<html><script>alert(1)</script></html>")
    with pytest.raises(Exception) as info:
        client.predict(handle_file(str(fake)), "Describe this image.", api_name="/describe_image")
    assert "could not be read as an image" in str(info.value)
    # and the next request works
    _, answer, _ = client.predict("hello", api_name="/chat")
    assert answer

"""The public API through ``gradio_client`` against the real page on the real engines (tiny checkpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import handle_file

from tests.waits import app_client

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


def test_api_lists_the_three_endpoints(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/chat", "/describe_image", "/describe_video"} <= names


def test_chat_streams_and_returns_the_answer_last(client):
    job = client.submit("Reverse every character of 'I love Qwen3-VL'.", api_name="/chat")
    updates = list(job)
    final_stats, final_answer = job.result()
    assert len(updates) >= 3  # streamed: one update per delta, not one blob
    answers = [u[1] for u in updates]
    assert all(len(b) >= len(a) for a, b in zip(answers, answers[1:]))  # the answer only grows
    assert final_answer and final_answer == answers[-1]
    assert "completion tokens" in final_stats and "first token" in final_stats


def test_chat_takes_system_prompt_history_and_settings(client):
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    stats, answer = client.predict("And now?", "You are terse.", history, 0.0, 1.0, -1, 8, 0.0, api_name="/chat")
    assert answer
    completion = int(stats.split(" completion tokens")[0].rsplit(" ", 1)[1])
    assert 1 <= completion <= 8


def test_describe_image(client):
    stats, answer = client.predict(handle_file(str(ASSETS / "coffee.jpg")), "What is in the cup?",
                                   api_name="/describe_image")
    assert answer and "prompt" in stats
    prompt_tokens = int(stats.split(" prompt + ")[0].rsplit(" ", 1)[1])
    assert prompt_tokens > 64  # the picture's visual tokens are in the prompt


def test_describe_video(client):
    stats, answer = client.predict(handle_file(str(ASSETS / "example.mp4")), "Describe this video.", 2.0, 8,
                                   api_name="/describe_video")
    assert answer and "prompt" in stats


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
    _, answer = client.predict("hello", api_name="/chat")
    assert answer

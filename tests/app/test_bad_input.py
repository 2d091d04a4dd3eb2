"""Issue 4, "Bad input", through the public API (``gradio_client``) on the real page and the real engines.

Every awkward file of ``tests/badfiles.py`` is either answered (the answer is not empty and the prompt's token
count shows the picture or frames went in) or refused with the app's own sentence from ``demo.errors``; in
both cases the next request is answered. Checks that need the engine layer itself (a reader that hangs, no
room for frames) call ``Engines`` directly. Structure only: the tiny checkpoint's words are random.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import os

import httpx
import pytest
from gradio_client import handle_file

from demo.engines.params import GenerationParams, VideoSampling
from demo.engines.video_events import Done, Stage
from demo.errors import MESSAGES, ImageError, VideoError
from demo.inputs import video_frames
from demo.inputs.images import check_image
from tests import badfiles
from tests.conftest import page_instance
from tests.drive import collect
from tests.unit.test_bad_files import IMAGE_ERRORS, IMAGE_OK, VIDEO_ERRORS, VIDEO_OK
from tests.waits import ENGINE_WAIT_S, app_client

QUESTION = "Describe this image."
GEN = (0.0, 1.0, -1, 8, 0.0, "auto")  # temperature, top_p, top_k, max_tokens, presence_penalty, thinking: short


@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return badfiles.make_images(tmp_path_factory.mktemp("bad-images"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return badfiles.make_videos(tmp_path_factory.mktemp("bad-videos"))


@pytest.fixture(scope="module")
def text_prompt_tokens(client):
    """Prompt tokens of the image question without an image: the baseline visual tokens are counted from."""
    stats, *_ = client.predict(QUESTION, "", [], *GEN, api_name="/chat")
    return prompt_tokens(stats)


def prompt_tokens(stats: str) -> int:
    return int(stats.split(" prompt + ")[0].split()[-1])


def answered(stats: str, answer) -> None:
    """An answer came back from the model (random weights: its text may even be empty, its tokens are not)."""
    assert isinstance(answer, str)
    completion = int(stats.split(" completion tokens")[0].split()[-1])
    assert completion >= 1 and "finish: " in stats


def shown(sentence: str) -> str:
    """A sentence as the API returns it: as written, not escaped (an API caller reads text, not HTML; issue 13)."""
    return sentence


def refused(call) -> str:
    with pytest.raises(Exception) as info:
        call()
    text = str(info.value)
    assert "Traceback" not in text
    return text


def next_request_works(client) -> None:
    stats, answer, _ = client.predict("hello", "", [], *GEN, api_name="/chat")
    answered(stats, answer)


# --- images ---------------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", IMAGE_OK)
def test_awkward_images_are_answered(client, images, text_prompt_tokens, name):
    stats, answer, _ = client.predict(handle_file(str(images[name])), QUESTION, *GEN, api_name="/describe_image")
    answered(stats, answer)
    # The picture reached the model: at least the processor's smallest image (2x2 merged patches) + markers.
    assert prompt_tokens(stats) >= text_prompt_tokens + 4
    if name in ("exif-rotated.jpg", "cmyk.jpg", "picture.webp", "rgba.png"):
        assert prompt_tokens(stats) >= text_prompt_tokens + 50  # 320x240 or 160x320: dozens of tokens


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("name", sorted(IMAGE_ERRORS))
def test_bad_images_are_refused_with_a_sentence(client, images, name):
    with pytest.raises(ImageError) as expected:  # the exact sentence, formatted as the app formats it
        check_image(str(images[name]))
    assert expected.value.code == IMAGE_ERRORS[name]
    text = refused(lambda: client.predict(handle_file(str(images[name])), QUESTION, *GEN,
                                          api_name="/describe_image"))
    assert shown(str(expected.value)) in text
    next_request_works(client)


def test_no_image_is_a_sentence(client):
    assert MESSAGES["image_missing"] in refused(lambda: client.predict(None, QUESTION, api_name="/describe_image"))


# --- videos ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", VIDEO_OK)
def test_every_container_is_answered(client, videos, name):
    _, plan = video_frames.read_clip(str(videos[name]), token_budget=video_frames.video_token_budget(8192, 8),
                                     fps=2.0, max_frames=4, timeout=ENGINE_WAIT_S)
    stats, answer = client.predict(handle_file(str(videos[name])), "Describe this video.", 2.0, 4, *GEN,
                                   api_name="/describe_video")
    answered(stats, answer)
    # the frames went in: their tokens less the timestamps' share, which the processor counts differently
    assert prompt_tokens(stats) >= plan.visual_tokens - 12 * (plan.nframes // 2)


@pytest.mark.parametrize("name", sorted(VIDEO_ERRORS))
def test_bad_videos_are_refused_with_a_sentence(client, videos, name):
    text = refused(lambda: client.predict(handle_file(str(videos[name])), "Describe this video.", 2.0, 4, *GEN,
                                          api_name="/describe_video"))
    assert shown(MESSAGES[VIDEO_ERRORS[name]]) in text
    stats, answer = client.predict(handle_file(str(videos["one-frame.mp4"])), "Describe this video.", 2.0, 4,
                                   *GEN, api_name="/describe_video")
    answered(stats, answer)


def test_a_ten_minute_clip_is_reduced_to_fit(client, tmp_path):
    path = badfiles.long_clip(tmp_path / "ten-minutes.mp4")
    _, plan = video_frames.read_clip(str(path), token_budget=video_frames.video_token_budget(8192, 8), fps=2.0,
                                     max_frames=256, timeout=ENGINE_WAIT_S)
    assert plan.nframes == 256  # of 1200 at 2 per second
    stats, answer = client.predict(handle_file(str(path)), "Describe this video.", 2.0, 256, *GEN,
                                   api_name="/describe_video")
    answered(stats, answer)
    assert plan.visual_tokens - 12 * 128 <= prompt_tokens(stats) <= 8192 - 8


def test_no_room_for_frames_is_refused_before_any_engine_work(engines, videos):
    events = []
    with pytest.raises(VideoError) as info:
        async def ask():
            async for ev in engines.answer_video(str(videos["vertical.mp4"]), "Describe this video.",
                                                 VideoSampling(), GenerationParams(max_tokens=8000)):
                events.append(ev)
        asyncio.run(ask())
    assert info.value.code == "no_room"
    assert str(info.value) == MESSAGES["no_room"].format(budget=8192 - 8000 - 256)
    assert events == [Stage("reading")]  # reading only: no frames, nothing sent to the worker


def test_a_reader_that_hangs_is_stopped_and_the_next_video_works(engines, videos, tmp_path):
    quick = copy.copy(engines)  # the same engines, a short time limit for reading
    quick.settings = dataclasses.replace(engines.settings, video_read_timeout=3.0)
    fifo = tmp_path / "never-written.mp4"
    os.mkfifo(fifo)  # opening it blocks until someone writes: a decoder that never returns
    with pytest.raises(VideoError) as info:
        collect(quick.answer_video(str(fifo), "Describe this video.", VideoSampling(max_frames=4),
                                  GenerationParams(max_tokens=8)))
    assert info.value.code == "too_slow"
    assert str(info.value) == MESSAGES["too_slow"]
    # the next video works (with the usual time limit: 3 s to read one is a bet on a cold machine's speed)
    events = collect(engines.answer_video(str(videos["vertical.mp4"]), "Describe this video.",
                                          VideoSampling(max_frames=4), GenerationParams(max_tokens=8)))
    assert isinstance(events[-1], Done) and events[-1].answer.completion_tokens >= 1


# --- text -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("message", ["", "   ", "\x00\x00", "\x1b[2J\x07\n"])
def test_empty_messages(client, message):
    assert MESSAGES["empty"] in refused(lambda: client.predict(message, api_name="/chat"))


def test_a_message_longer_than_the_context(client):
    text = refused(lambda: client.predict("word " * 9000, "", [], *GEN, api_name="/chat"))
    assert shown(MESSAGES["too_long"].format(max_model_len=8192)) in text
    next_request_works(client)


@pytest.mark.parametrize("message", [
    "NUL\x00 in the middle",
    "\x1b[31mred\x1b[0m and a bell\x07 and a DEL\x7f",
    "<img src=x onerror=alert(1)><b>bold</b> & <script>alert(2)</script>",
])
def test_control_characters_and_markup_are_answered(client, message):
    history = [{"role": "user", "content": message}, {"role": "assistant", "content": "ok\x00"}]
    stats, answer, _ = client.predict(message, "system\x00 \x1b[1m", history, *GEN, api_name="/chat")
    answered(stats, answer)
    assert prompt_tokens(stats) > 10


def call_raw(app_url: str, endpoint: str, data: list) -> str:
    """Call an endpoint over Gradio's plain HTTP API with JSON written by hand: ``\\ud800`` escapes reach the
    server as lone surrogates (gradio_client cannot send them: it encodes its body as UTF-8 first)."""
    body = json.dumps({"data": data})  # ensure_ascii: a lone surrogate becomes the escape "\\ud800"
    resp = httpx.post(f"{app_url}/gradio_api/call{endpoint}", content=body,
                      headers={"Content-Type": "application/json"}, timeout=30)
    resp.raise_for_status()
    event_id = resp.json()["event_id"]
    with httpx.stream("GET", f"{app_url}/gradio_api/call{endpoint}/{event_id}", timeout=ENGINE_WAIT_S) as stream:
        return "".join(stream.iter_text())


def test_lone_surrogates_are_answered(app_url, client):
    events = call_raw(app_url, "/chat", ["a lone \ud800 surrogate", "sys \udfff", [
        {"role": "user", "content": "x\udc80"}, {"role": "assistant", "content": "y"}], *GEN])
    assert "event: complete" in events and "completion tokens" in events
    next_request_works(client)


def test_control_characters_in_a_video_question(client, videos):
    stats, answer = client.predict(handle_file(str(videos["vertical.mp4"])), "what\x00 \x1b[1mis it?\x07",
                                   2.0, 4, *GEN, api_name="/describe_video")
    answered(stats, answer)


# --- uploads over the size limit --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_upload_url(engines):
    """A second page on the same engines whose uploads are limited to 1 MB."""
    with page_instance(engines, max_file_size_mb=1) as url:
        yield url


def test_uploads_over_the_limit_are_refused_before_they_are_read(small_upload_url, images, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(images["huge-12000x9000.jpg"].read_bytes())  # 1.7 MB > 1 MB
    client = app_client(small_upload_url)
    assert client.config["max_file_size"] == 1024 * 1024
    # gradio_client checks the size against the page's limit before sending anything ...
    text = refused(lambda: client.predict(handle_file(str(big)), QUESTION, *GEN, api_name="/describe_image"))
    assert "exceeds the maximum file size of 1048576 bytes" in text
    # ... and the server refuses a bigger body while reading it, before any handler sees a file.
    with open(big, "rb") as fh:
        resp = httpx.post(f"{small_upload_url}/gradio_api/upload", files=[("files", ("big.png", fh))], timeout=30)
    assert resp.status_code == 413
    assert "maximum allowed size of 1048576 bytes" in resp.text
    # the next request, under the limit, is answered
    stats, answer, _ = client.predict(handle_file(str(images["cmyk.jpg"])), QUESTION, *GEN,
                                      api_name="/describe_image")
    answered(stats, answer)

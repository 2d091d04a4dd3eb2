"""Exposure, round 2 (issue 13), on the real engines and the real page: what every visitor sees in the header,
what an API caller reads in an error, and what a raw HTTP caller can send (NaN, Infinity, a URL for a file)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from demo.errors import MESSAGES
from tests.app.test_exposure import Bait
from tests.raw_http import outcome, raw_call, upload
from tests.waits import app_client

ASSETS = Path(__file__).resolve().parents[2] / "assets"
GEN = [0.7, 0.8, 20, 4, 0.0, "auto"]  # temperature, top_p, top_k, max_tokens, presence_penalty, thinking


def config(app_url: str) -> dict:
    return json.loads(urllib.request.urlopen(f"{app_url}/config", timeout=30).read())


def header_html(app_url: str) -> str:
    comp = next(c for c in config(app_url)["components"] if c.get("props", {}).get("elem_id") == "app-header")
    return comp["props"]["value"]


# --- 1. the header --------------------------------------------------------------------------------------------
def test_the_header_names_the_model_and_plan_but_no_address_or_path(app_url, engines):
    text = header_html(app_url)
    # what a visitor should learn: the model, where it comes from, the plan, each engine's state
    assert engines.settings.served_model_name in text
    assert "tiny random-weight checkpoint" in text
    assert engines.plan.describe() in text
    assert "data-engine='server' data-state='ready'" in text
    # what a visitor must not: the server's address and port, the folders of this machine
    endpoint = engines.server.endpoint
    for secret in (endpoint.base_url, f":{engines.server.port}", str(engines.model_path), str(engines.log_dir),
                   str(Path(engines.settings.cache_dir).expanduser()), str(Path.home())):
        assert secret not in text, secret


# --- 2. an API caller reads the sentence as written -------------------------------------------------------------
def test_an_api_error_is_plain_text_not_html(app_url):
    client = app_client(app_url)
    with pytest.raises(Exception) as info:
        client.predict("word " * 9000, "", [], *GEN, api_name="/chat")
    text = str(info.value)
    assert MESSAGES["too_long"].format(max_model_len=8192) in text  # "the model's context", an apostrophe
    assert "&#x27;" not in text and "&amp;" not in text


# --- 5. non-finite numbers from raw HTTP callers ----------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(app_url):
    return upload(app_url, ASSETS / "example.mp4")


@pytest.mark.parametrize("fps,max_frames,answered", [
    (float("nan"), 4, True),  # NaN: the default fps, as /chat's NaN temperature
    (float("inf"), 4, True),  # held to the slider's range (8 per second), as /chat's 1e9 temperature
    (-float("inf"), 4, True),
    (2.0, float("nan"), False),  # a count that is no number: the sentence, as /chat's NaN top_k
    (2.0, float("inf"), False),
    (2.0, "many", False),
])
def test_non_finite_video_numbers_are_clamped_or_refused_with_a_sentence(app_url, clip, fps, max_frames, answered):
    code, events = raw_call(app_url, "describe_video", [clip, "Describe this video.", fps, max_frames, *GEN])
    assert code == 200
    done = outcome(events)
    if answered:
        assert done["success"], done
        stats = done["output"]["data"][0]
        assert "completion tokens" in stats and "finish:" in stats
    else:
        assert not done["success"]
        assert done["output"]["error"] == MESSAGES["bad_video_settings"], done


# --- 6. a URL where a file belongs ------------------------------------------------------------------------------
def page_event(app_url: str, elem_id: str, min_inputs: int) -> int:
    """The fn_index of the page's own event (not an API endpoint, but reachable by a raw request) that takes the
    component ``elem_id`` among at least ``min_inputs`` inputs."""
    cfg = config(app_url)
    comp_id = next(c["id"] for c in cfg["components"] if c.get("props", {}).get("elem_id") == elem_id)
    return next(i for i, dep in enumerate(cfg["dependencies"])
                if comp_id in dep["inputs"] and len(dep["inputs"]) >= min_inputs and dep.get("backend_fn"))


def test_a_file_given_as_a_url_is_refused_on_every_file_input_and_nothing_is_fetched(app_url):
    with Bait() as bait:
        remote = {"path": f"{bait.url}/cat.png", "url": f"{bait.url}/cat.png", "orig_name": "cat.png",
                  "meta": {"_type": "gradio.FileData"}}
        calls = {
            "describe_image": ["describe_image", [remote, "Describe this image.", *GEN, "standard"]],  # detail last
            "describe_video": ["describe_video", [remote, "Describe this video.", 2.0, 4, *GEN]],
        }
        for name, (api_name, data) in calls.items():
            code, events = raw_call(app_url, api_name, data)
            done = outcome(events)
            assert code == 200 and not done["success"], (name, done)
            assert done["output"]["error"] == MESSAGES["remote_file"], (name, done)
        # the page's own events, which a raw request reaches by their index: the Video tab and the Image tab
        video_fn = page_event(app_url, "video-input", 7)
        gallery_fn = page_event(app_url, "image-gallery", 2)
        for fn, data in ((video_fn, [remote, "Describe.", None, 2.0, 8, "360p", 0, 0, *GEN]),  # None: its state
                         # the Image tab's Ask: images, question, its state, the detail, the region picker's state
                         (gallery_fn, [[{"image": remote, "caption": None}], "Describe.", None, "standard", None])):
            code, events = raw_call(app_url, fn, data)
            done = outcome(events)
            assert not done["success"] and done["output"]["error"] == MESSAGES["remote_file"], (fn, done)
        assert bait.hits == []
    # and the app goes on: an uploaded file is still taken
    code, events = raw_call(app_url, "describe_image",
                            [upload(app_url, ASSETS / "coffee.jpg"), "What is it?", *GEN, "standard"])
    assert outcome(events)["success"]

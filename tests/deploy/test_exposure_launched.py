"""Exposure round 3 (issue 26) against ``app.py`` as its own process, through ``gradio_client`` and raw HTTP, as
an API caller reaches a running Space: the in-process checks of tests/app/test_exposure_round3.py, once more
where no test code shares the app's process.

The app is attached (``--api-base``) to the test session's real vLLM server, so no second engine starts; every
point checked here is decided by the page in front of the engines. To run the same checks against an app you
started yourself (``scripts/run.sh --model tiny``): ``EXPOSURE_APP_URL=http://127.0.0.1:7860 pytest
tests/deploy/test_exposure_launched.py`` (the session's engines still start: the test order depends on them).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import urllib.request
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from demo.engines.server import free_port
from demo.errors import MESSAGES
from demo.inputs.conversation_file import ConversationFileError, export
from tests.app.test_exposure import Bait, http_status
from tests.app.test_exposure_round3 import GEN, file_object, restore_event
from tests.deploy.conftest import AppProcess, base_env, wait_answer
from tests.raw_http import outcome, raw_call
from tests.unit.test_import_names import WIDE, image_doc
from tests.waits import app_client

ASSETS = Path(__file__).resolve().parents[2] / "assets"
GENERATION = dict(temperature=GEN[0], top_p=GEN[1], top_k=GEN[2], max_tokens=GEN[3], presence_penalty=GEN[4])


@pytest.fixture(scope="module")
def url(engines):
    """The app under test. It asks for the session's engines even when pointed elsewhere: the test order
    (tests/conftest.py) runs every test that uses them before the last engine test stops them."""
    given = os.environ.get("EXPOSURE_APP_URL")
    if given:
        yield given.rstrip("/")
        return
    endpoint = engines.server.endpoint
    port = free_port()
    app = AppProcess("exposure", ["--api-base", endpoint.root, f"--api-key={endpoint.api_key}"],
                     base_env(GRADIO_SERVER_PORT=str(port)), port)
    try:
        app.wait_page()
        yield app.url
    finally:
        app.kill_everything()


@pytest.fixture(scope="module")
def client(url):
    """A client of the app once its engines answer (an app just started says they are starting)."""
    client = app_client(url)
    wait_answer(client, "/chat", message="hello", system_prompt="", history=[], **{**GENERATION, "max_tokens": 2})
    return client


def app_error(client, api_name: str, **kwargs) -> str:
    """The sentence the app answered ``api_name`` with; fails the test if it answered."""
    with pytest.raises(AppError) as caught:
        client.predict(api_name=api_name, **kwargs)
    return str(caught.value)


def chat(client, history, message: str = "Go on."):
    return client.predict(message=message, system_prompt="", history=history, api_name="/chat", **GENERATION)


def test_1_a_url_hidden_in_a_json_input_is_not_fetched(url, client):
    with Bait() as bait:
        hidden = file_object(f"{bait.url}/cat.png")
        history = [{"role": "user", "content": "Hello", "note": [hidden]}, {"role": "assistant", "content": "Hi."}]
        assert app_error(client, "/chat", message="Go on.", system_prompt="", history=history,
                         **GENERATION) == MESSAGES["remote_file"]
        code, events = raw_call(url, restore_event(url, "video"), [{"turns": [], "x": hidden}])
        assert outcome(events)["output"]["error"] == MESSAGES["remote_file"]
        assert bait.hits == []
    clean = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi."}]
    assert "completion tokens" in chat(client, clean)[0]  # and the app goes on


def test_2_a_name_of_ninety_four_byte_letters_is_taken(url, client):
    stats, answer, _ = chat(client, image_doc(WIDE * 90 + ".png"), "And its colour?")
    assert "completion tokens" in stats
    code, events = raw_call(url, "chat", ["And its colour?", "", image_doc(WIDE * 90 + ".png"), *GEN])
    assert outcome(events)["success"]


def test_3_an_integer_too_large_for_a_float_is_a_sentence(url, client):
    doc = export("chat", [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi."}], model="m")
    doc["turns"][1]["thinking_s"] = 10**400
    sentence = str(ConversationFileError("import_bad", detail="the thinking time of turn 2 is not a number in range"))
    assert app_error(client, "/chat", message="Go on.", system_prompt="", history=doc, **GENERATION) == sentence
    code, events = raw_call(url, restore_event(url, "chat"), [doc])
    assert sentence in json.dumps(outcome(events)["output"]["data"], ensure_ascii=False)


def test_4_a_restored_conversation_shows_remote_images_as_text(url, client):
    pixel = "![pixel](https://example.com/a.png?leak=1)"
    doc = export("chat", [{"role": "user", "content": f"Look {pixel}"},
                          {"role": "assistant", "content": f"Here: {pixel} <img src='https://example.com/b.png'>"}],
                 model="m")
    code, events = raw_call(url, restore_event(url, "chat"), [doc])
    done = outcome(events)
    assert done["success"], done
    shown = [s for s in _strings(done["output"]["data"]) if "pixel]" in s or "<img" in s]
    assert shown  # the conversation came back
    for text in shown:
        assert not re.search(r"(?<!\\)!\[pixel\]", text), text  # an image only as text: \![pixel](...)
        assert not re.search(r"(?<!\\)<img", text), text


def test_5_ask_video_refuses_a_history_with_images(client):
    clip = handle_file(str(ASSETS / "example.mp4"))
    assert app_error(client, "/ask_video", video=clip, question="And then?", history=image_doc("c.png"),
                     fps=2.0, max_frames=4, **GENERATION) == MESSAGES["video_history_images"]


def test_6_the_run_history_is_not_served(url, client):
    assert http_status(f"{url}/gradio_api/runs")[0] == 404


def test_7_a_callers_input_is_not_kept_in_its_session(url, client):
    """Seen from outside through Gradio's deep link, which saves a session's kept values and serves them back."""
    session, marker = secrets.token_hex(8), f"kept-{secrets.token_hex(6)}"
    history = [{"role": "user", "content": f"Say {marker}"}, {"role": "assistant", "content": "No."}]
    code, events = raw_call(url, "chat", ["Go on.", "", history, *GEN], session=session)
    assert outcome(events)["success"]
    link = json.loads(urllib.request.urlopen(f"{url}/gradio_api/deep_link?session_hash={session}", timeout=30).read())
    assert link  # the session is known to the app
    config = urllib.request.urlopen(f"{url}/config?deep_link={link}", timeout=30).read().decode()
    assert json.loads(config)["deep_link_state"] == "valid"
    assert marker not in config


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)

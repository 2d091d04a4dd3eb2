"""Scaling out: the page attached (``--api-base``) to a vLLM server it did not start, with no local engine.

The server is the test session's real vLLM server (started by the app's own launcher, as every engine test
uses it), standing in for a multi-GPU ``vllm serve`` deployment; no second server is started for this (each
start costs a minute or more on the test machines). ``app.py`` is told a wrong served name and a smaller
context than the server has: it must find both out from ``/v1/models``, send chat, images and video (as
``video_url`` frames) to it, and on Ctrl-C stop itself without touching the server.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from gradio_client import handle_file

from demo.engines.processes import group_alive
from demo.engines.server import free_port
from tests.deploy.conftest import AppProcess, base_env, wait_answer
from tests.waits import app_client

ASSETS = Path(__file__).resolve().parents[2] / "assets"
APP_LEN = 4096  # what the app is told; the server's own context must win
SERVER_LEN = 8192  # the session server's (the seed's --max-model-len)


@pytest.fixture(scope="module")
def remote_server(engines):
    """The session's server, seen from outside: ready, its context not the app's."""
    assert engines.server.status.get().state == "ready"
    assert engines.max_model_len == SERVER_LEN
    return engines.server


@pytest.fixture(scope="module")
def attached_app(remote_server):
    port = free_port()
    endpoint = remote_server.endpoint
    app = AppProcess("attached", ["--api-base", endpoint.root, f"--api-key={endpoint.api_key}",
                                  "--served-model-name", "not-served-here", "--max-model-len", str(APP_LEN),
                                  "--video-max-tokens", "512"], base_env(GRADIO_SERVER_PORT=str(port)), port)
    try:
        app.wait_page()
        yield app
    finally:
        app.kill_everything()


@pytest.fixture(scope="module")
def client(attached_app):
    return app_client(attached_app.url)


def prompt_tokens(stats: str) -> int:
    return int(re.search(r"(\d+) prompt \+", stats).group(1))


def test_attached_app_starts_no_engine_and_learns_the_server(attached_app, client):
    _, answer, _ = wait_answer(client, "/chat", message="hello", max_tokens=8)
    assert answer
    log = attached_app.log()
    assert "attached (--api-base)" in log and "video: through the server" in log
    assert not [p for p in attached_app.descendants() if "vllm" in " ".join(p.cmdline())]


def test_chat_goes_to_the_attached_server_under_its_served_name(client):
    job = client.submit("Count to five.", api_name="/chat")
    updates = list(job)
    stats, answer, _ = job.result()
    assert len(updates) >= 3 and answer  # streamed from the remote server
    assert "completion tokens" in stats


def test_the_context_is_the_attached_servers(client, remote_server):
    server_len = SERVER_LEN
    with pytest.raises(Exception) as info:  # the server's 8192, not the 4096 the app was told
        client.predict("word " * (server_len + 100), api_name="/chat")
    assert f"({server_len} tokens)" in str(info.value)


def test_image_through_the_attached_server(client):
    stats, answer, _ = client.predict(handle_file(str(ASSETS / "coffee.jpg")), "What is in the cup?",
                                      api_name="/describe_image")
    assert answer and prompt_tokens(stats) > 64


def test_video_goes_to_the_attached_server_as_frames_within_its_context(client):
    job = client.submit(handle_file(str(ASSETS / "example.mp4")), "Describe this video.", 2.0, 8,
                        api_name="/describe_video")
    updates = list(job)
    stats, answer = job.result()
    assert answer and "finish:" in stats
    # 8 frames of the example clip reached the model: far more prompt tokens than the question alone
    assert prompt_tokens(stats) > 4 * 20
    assert prompt_tokens(stats) < SERVER_LEN
    assert len([u for u in updates if u[1]]) >= 2  # the answer streamed, as chat does


def test_ctrl_c_stops_the_app_and_leaves_the_server_running(attached_app, remote_server):
    alive = attached_app.terminate(sig=signal.SIGINT)  # Ctrl-C; SIGTERM is tested with local engines
    assert not alive
    assert attached_app.proc.returncode is not None
    assert "Traceback" not in attached_app.log()
    assert group_alive(remote_server.pid)  # not the app's to stop
    assert remote_server.status.get().state == "ready"

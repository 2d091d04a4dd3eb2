"""Several app processes behind one address (``--app-processes``, ``demo/fleet``) on the real engines: every
request of a session reaches the process that holds it, a video from any process goes to the one worker, the page
answers and stops through the front, an app process that ends is started again, and stopping leaves none.

The fleet runs on the session's engines (the app's first process would have started them), its app processes
real ``python -m demo.fleet.child`` processes. Structure only (random weights), never durations.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import urllib.request
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import expect

from demo.engines.server import free_port
from demo.fleet import running_fleet
from demo.fleet.front import PROCESS_HEADER
from demo.fleet.routing import by_key
from tests.app.conftest import open_page
from tests.app.test_browser import LONG_ANSWER, set_generation
from tests.app.test_light_stream import live_span_lengths, stop_once_text_streams
from tests.raw_http import fn_index, upload
from tests.waits import ENGINE_WAIT_S, ms, prove_abort, wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"
N = 2
GEN = [0.7, 0.8, 20, 24, 0.0, "auto"]  # temperature, top-p, top-k, max tokens, presence penalty, thinking


def fleet_of(engines, n: int = N):
    settings = dataclasses.replace(engines.settings, app_port=free_port(), host="127.0.0.1", light_stream="on")
    return running_fleet(settings, engines, n, ready_timeout=ENGINE_WAIT_S)


@pytest.fixture(scope="module")
def fleet(engines):
    with fleet_of(engines) as f:
        yield f


@pytest.fixture(scope="module")
def url(fleet):
    return f"http://127.0.0.1:{fleet.settings.app_port}"


def session_on(index: int, n: int = N, salt: str = "") -> str:
    """A session name that lands on process ``index``."""
    i = 0
    while by_key(f"{salt}{i:08x}", n) != index:
        i += 1
    return f"{salt}{i:08x}"


def ask(url: str, api_name: str, data: list, session: str) -> tuple[list[str], list[dict]]:
    """Join the queue and read the session's stream to its end, through the front: the process each of the two
    requests reached (its header), and the stream's messages."""
    body = json.dumps({"data": data, "fn_index": fn_index(url, api_name), "session_hash": session}).encode()
    request = urllib.request.Request(f"{url}/gradio_api/queue/join", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        served = [resp.headers[PROCESS_HEADER]]
    messages = []
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=ENGINE_WAIT_S) as r:
        served.append(r.headers[PROCESS_HEADER])
        for line in r:
            if line.startswith(b"data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") in ("process_completed", "close_stream"):
                    break
    return served, messages


def finished(messages: list[dict]) -> dict:
    done = [m for m in messages if m.get("msg") == "process_completed"]
    assert done and done[-1].get("success"), messages[-3:]
    return done[-1]["output"]


def test_each_session_is_answered_by_the_process_that_holds_it(url):
    for index in range(N):
        served, messages = ask(url, "chat", ["Hello there", "", [], *GEN], session_on(index))
        assert served == [str(index), str(index)]
        stats, answer, _ = finished(messages)["data"]
        assert "completion tokens" in stats and answer
        assert sum(m.get("msg") == "process_generating" for m in messages) >= 2  # streamed, not one final piece


def test_a_video_from_every_process_goes_to_the_one_worker(url, fleet, engines):
    ended_before = sum(engines.worker.counts.values())
    for index in range(N):
        clip = upload(url, ASSETS / "example.mp4")  # to whichever process: the upload folder is shared
        served, messages = ask(url, "describe_video", [clip, "What happens?", 1.0, 4, *GEN], session_on(index))
        assert served == [str(index), str(index)]
        stats, answer = finished(messages)["data"]
        assert "completion tokens" in stats
    # both answered by the session's one worker: its tally of ended jobs comes after each job's last event (a run of
    # this file alone read it before the second job's count arrived)
    wait_until(lambda: sum(engines.worker.counts.values()) >= ended_before + N, "the worker to count both jobs")
    assert sum(engines.worker.counts.values()) == ended_before + N
    for proc in fleet.procs:  # and no app process started an engine of its own
        family = psutil.Process(proc.proc.pid).children(recursive=True)
        assert not [p for p in family if "vllm" in " ".join(p.cmdline()) or "video" in p.name()], family


def test_the_page_answers_on_its_light_stream_and_stops_through_the_front(url, browser, output_dir, engines):
    with open_page(browser, url, output_dir, "fleet") as page:
        set_generation(page, **LONG_ANSWER)
        live_span_lengths(page)

        # the answer's text comes on the light stream, whose ticket names the process that holds it; the Stop's
        # cancel names the session, so it reaches the same process
        prove_abort(engines, LONG_ANSWER["max_tokens"], lambda witness: stop_once_text_streams(page, witness))
        expect(page.locator("#chat-box span.live-text")).to_have_count(0, timeout=ms(ENGINE_WAIT_S))
        set_generation(page, max_tokens=16)
        page.locator("#chat-input textarea").fill("hello")
        page.locator("#chat-send").click()
        expect(page.locator("#chat-box [data-testid='user']")).to_have_count(2)
        expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))


def test_an_app_process_that_ends_is_started_again(url, fleet):
    proc = fleet.procs[1]
    old = proc.proc.pid
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: proc.proc.pid != old and fleet.all_up.is_set(), "the app process to be started again")
    served, messages = ask(url, "chat", ["Hello again", "", [], *GEN], session_on(1, salt="again"))
    assert served == ["1", "1"]
    assert "completion tokens" in finished(messages)["data"][0]
    served, messages = ask(url, "chat", ["And you?", "", [], *GEN], session_on(0, salt="again"))
    assert served == ["0", "0"] and finished(messages)  # the other process was not touched


def test_stopping_the_fleet_leaves_no_app_process(engines):
    with fleet_of(engines) as fleet:
        family = [psutil.Process(p.proc.pid) for p in fleet.procs]
        family += [c for p in list(family) for c in p.children(recursive=True)]
        assert len(family) >= N
    gone, alive = psutil.wait_procs(family, timeout=30)
    assert not alive, alive
    assert engines.worker.status.get().state == "ready"  # the engines are not the fleet's to stop

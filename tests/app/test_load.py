"""Load, on the real engines and the real page (issue 4): a full queue, a long video beside chats, users leaving.

Random weights: assertions are on structure (which requests failed and how, the order things finished in,
the server's running-requests metric), never on the answers' wording or on durations.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import handle_file
from gradio_client.utils import QueueError, Status

from tests.conftest import page_instance
from tests.engine.test_engines import make_clip
from tests.waits import ENGINE_WAIT_S, app_client, cancel_now, prove_abort, wait_processing, wait_until

# An answer still streaming when it is cancelled: greedy (random weights then loop without an end-of-text
# token, the same way every run) and far longer than the checks take (the eager CPU engine: ~100 tokens/s).
LONG = 7000


def chat_args(message: str, max_tokens: int) -> tuple:
    # message, system_prompt, history, temperature, top_p, top_k, max_tokens, presence_penalty
    temperature = 0.0 if max_tokens >= LONG else 0.7
    return message, "", [], temperature, 0.8, 20, max_tokens, 0.0


def wait_for(predicate, what: str) -> None:
    wait_until(predicate, what, poll=0.05)


# --- twice the queue at once --------------------------------------------------------------------------------
def test_a_full_queue_turns_the_extra_users_away_and_answers_the_others(engines):
    running, queue = 2, 3
    # a fixed limit (--max-concurrency no higher): the running slots stay taken whatever the load
    with page_instance(engines, concurrency_limit=running, max_concurrency=running, max_queue_size=queue) as url:
        client = app_client(url)
        # the running slots are taken by long answers first, so that the queue's size is what is measured
        # (each in a session of its own: Gradio's cancel ends every task of that function in the session)
        # (the clients are kept: a client that is garbage-collected closes its session, which ends its job)
        blocker_clients = [app_client(url) for _ in range(running)]
        blockers = [c.submit(*chat_args(f"Write a long story number {i}.", LONG), api_name="/chat")
                    for i, c in enumerate(blocker_clients)]
        wait_processing(*blockers)  # both hold a running slot

        def join(i):
            job = client.submit(*chat_args(f"Count to {i}.", 8), api_name="/chat")
            try:
                return job.result(timeout=ENGINE_WAIT_S)
            except Exception as exc:  # noqa: BLE001 (collected and asserted below)
                return exc

        with ThreadPoolExecutor(2 * queue) as pool:
            futures = [pool.submit(join, i) for i in range(2 * queue)]
            # every extra user has heard back before the long answers end: they were turned away, not queued
            wait_for(lambda: sum(f.done() for f in futures) >= queue, "the extra users to be turned away")
            assert not any(b.done() for b in blockers), "a long answer ended early: the queue was not full"
            for b in blockers:  # their slots go to the queued users (waiting for their ends takes minutes)
                b.cancel()
            results = [f.result() for f in futures]
        refused = [r for r in results if isinstance(r, Exception)]
        answered = [r for r in results if not isinstance(r, Exception)]
        assert len(refused) == queue, results
        for exc in refused:
            assert isinstance(exc, QueueError), repr(exc)
            assert "Queue is full" in str(exc) and "try again" in str(exc)
        assert len(answered) == queue
        for stats, answer, _ in answered:
            assert answer and "completion tokens" in stats
        # and once the queue has room again, a new user is answered
        stats, answer, _ = client.predict(*chat_args("hello", 8), api_name="/chat")
        assert answer


def test_a_full_queue_tells_a_raw_caller_in_a_sentence(engines):
    """What the browser and other clients get: HTTP 503 with the reason (the browser says "try again")."""
    import json
    import secrets
    import urllib.error
    import urllib.request

    with page_instance(engines, concurrency_limit=1, max_concurrency=1, max_queue_size=1) as url:
        client = app_client(url)
        # in a session of its own: Gradio's cancel ends every task of that function in the session
        # (and kept: a client that is garbage-collected closes its session, which ends its job)
        blocker_client = app_client(url)
        blocker = blocker_client.submit(*chat_args("Write a long story.", LONG), api_name="/chat")
        wait_processing(blocker)  # it holds the running slot
        waiting = client.submit(*chat_args("Count to two.", 8), api_name="/chat")
        wait_for(lambda: waiting.status().code == Status.IN_QUEUE, "the second request to wait in the queue")
        config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
        fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "chat")
        body = json.dumps({"data": list(chat_args("hi", 8)), "fn_index": fn_index,
                           "session_hash": secrets.token_hex(8)}).encode()
        request = urllib.request.Request(f"{url}/gradio_api/queue/join", data=body,
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        assert info.value.code == 503
        assert "Queue is full" in json.loads(info.value.read())["detail"]
        assert not blocker.done()
        blocker.cancel()  # its slot goes to the waiting request
        assert waiting.result(timeout=ENGINE_WAIT_S)[1]


# --- a long video job does not hold up chat -----------------------------------------------------------------
def test_chat_keeps_flowing_while_a_long_video_job_runs(app_url, engines, tmp_path):
    client = app_client(app_url)
    clip = make_clip(tmp_path / "long.mp4", seconds=30, fps=8, size=(640, 360))
    # many frames and the longest answer the settings allow
    video = client.submit(handle_file(str(clip)), "Describe this video in detail.", 8.0, 256,
                          0.7, 0.8, 20, engines.settings.video_max_tokens, 0.0, api_name="/describe_video")
    wait_processing(video)  # the video job runs
    chats_done = []
    for i in range(3):
        stats, answer, _ = client.predict(*chat_args(f"Say something about the number {i}.", 16),
                                          api_name="/chat")
        assert answer and "completion tokens" in stats
        chats_done.append(video.done())
    assert chats_done == [False, False, False], "the chats waited for the video job"
    stats, answer = video.result(timeout=ENGINE_WAIT_S)
    assert "completion tokens" in stats


# --- users who leave ----------------------------------------------------------------------------------------
# Each on a page instance of its own: on the session's shared page, after the other page tests, both failed all
# three attempts in a fresh-clone run (the stream closed only at the answer's end) while they pass on a fresh
# page; what the earlier tests leave behind in the shared instance is not found yet (see docs/testing.md).
@pytest.fixture
def own_page_url(engines):
    with page_instance(engines) as url:
        yield url


def test_cancelling_a_job_aborts_the_request_on_the_server(own_page_url, engines):
    app_url = own_page_url
    clients = []  # kept: a client that is garbage-collected closes its session

    def attempt(witness):
        clients.append(app_client(app_url))  # a session of its own each time, as a new visitor
        job = clients[-1].submit(*chat_args("Write a very long story about the sea.", LONG), api_name="/chat")
        # the answer is being made: vLLM's counter moved, or an update reached the client (read without the
        # job's lock, see cancel_now)
        witness.wait_decoding(done=job.done, arrived=lambda: len(job.communicator.job.outputs) > 0)
        cancel_now(app_url, clients[-1], job, "/chat")  # what job.cancel() sends, without its lock
        witness.check()  # vLLM idle again with no finish counted: the cancel aborted it there

    prove_abort(engines, LONG, attempt)
    # the page still answers
    _, answer, _ = clients[-1].predict(*chat_args("hello", 8), api_name="/chat")
    assert answer


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# Gradio ends the run of a closed tab only at the handler's next yield: the handler yields at least once per
# stream interval while tokens come, text or not (chat_stream.Progress). This test was marked xfail after two
# fresh-clone runs in which all three attempts' answers ended before the stream closed; the mark is gone.
def test_closing_the_tab_aborts_the_request_on_the_server(own_page_url, engines):
    app_url = own_page_url
    from playwright.sync_api import sync_playwright

    from tests.app.conftest import app_page
    from tests.app.test_browser import LONG_ANSWER, answer_arrived, set_generation

    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is missing: scripts/test.sh installs it"

    def attempt(witness):
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 720})
                page = app_page(context, app_url)
                set_generation(page, **LONG_ANSWER)
                page.locator("#chat-input textarea").fill("Write a very long story about the sea.")
                page.locator("#chat-send").click()
                witness.wait_decoding(arrived=lambda: answer_arrived(page, "chat"))  # the answer is being made
                # Closed at once: no screenshot first, which can take seconds on a loaded machine (one run with
                # the machine loaded saw all three attempts close the tab after their answers' ends).
                page.close()  # the person closes the tab mid-answer
                context.close()
            finally:
                browser.close()
        witness.check()  # vLLM idle again with no finish counted: the closed tab aborted it there

    prove_abort(engines, LONG_ANSWER["max_tokens"], attempt)

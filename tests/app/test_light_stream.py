"""The light stream (demo/ui/live.py, issue 30) on the real page and engines: after its first words, an answer's
text reaches the browser beside Gradio's queue, and the conversation ends with exactly that text; Stop keeps what
was shown. Structure only (random weights), never durations."""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.app.conftest import open_page
from tests.app.test_browser import LONG_ANSWER, set_generation
from tests.conftest import launched_page
from tests.waits import ENGINE_WAIT_S, ms, prove_abort

TICKET = re.compile(r'live-text live-([\w-]+)')


@pytest.fixture(scope="module")
def light_page(engines):
    with launched_page(engines, light_stream="on") as launched:
        yield launched


def chat_events(url: str) -> tuple[int, int]:
    """The chat tab's "Send" step and the answer step that follows it, as the page's config lists them."""
    config = json.loads(urllib.request.urlopen(f"{url}/config", timeout=30).read())
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    deps = config["dependencies"]
    send = next(i for i, d in enumerate(deps) if [ids["chat-send"], "click"] in d["targets"])
    answer = next(i for i, d in enumerate(deps) if d.get("trigger_after") == send)
    return send, answer


def join(url: str, fn_index: int, data: list, session: str) -> list[dict]:
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/gradio_api/queue/join", data=body,
                                                  headers={"Content-Type": "application/json"}), timeout=30).read()
    messages = []
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=ENGINE_WAIT_S) as r:
        for line in r:
            if line.startswith(b"data:"):
                messages.append((json.loads(line[5:]), line.decode()))
                if messages[-1][0].get("msg") in ("process_completed", "close_stream"):
                    break
    return messages


def read_light_stream(url: str, ticket: str, into: dict) -> None:
    with urllib.request.urlopen(f"{url}/live/{ticket}", timeout=ENGINE_WAIT_S) as r:
        into["type"] = r.headers.get("Content-Type")
        event = None
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event is None:
                into.setdefault("pieces", []).append(json.loads(line[5:]))
            elif line == "" and event == "end":
                into["ended"] = True
                return


def test_an_answer_after_its_first_words_goes_on_the_light_stream_and_the_conversation_keeps_all_of_it(light_page):
    server_app, url = light_page
    send, answer = chat_events(url)
    session = secrets.token_hex(8)
    assert join(url, send, ["Write a long story about the sea.", None], session)[-1][0].get("success")
    gen = [1.0, 0.95, -1, 128, 0.0]  # sampled (a greedy answer of random weights may be empty), 128 tokens
    got: dict = {}
    readers = []
    body = json.dumps({"data": [None, "", *gen], "fn_index": answer, "session_hash": session}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{url}/gradio_api/queue/join", data=body,
                                                  headers={"Content-Type": "application/json"}), timeout=30).read()
    updates = []
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=ENGINE_WAIT_S) as r:
        for line in r:
            if not line.startswith(b"data:"):
                continue
            msg, text = json.loads(line[5:]), line.decode()
            if msg.get("msg") == "process_generating":
                if readers:  # after the first words
                    updates.append(msg)
                found = TICKET.search(text)
                if found and not readers:  # the message's marker: follow it as the page's script does
                    readers.append(threading.Thread(target=read_light_stream, args=(url, found.group(1), got)))
                    readers[0].start()
            if msg.get("msg") in ("process_completed", "close_stream"):
                assert msg.get("success"), msg
                break
    assert readers, "no message carried the light stream's marker"
    readers[0].join(ENGINE_WAIT_S)
    assert got.get("ended") and got["type"].startswith("text/event-stream"), got
    history = next(v for v in server_app.state_holder.session_data[session].state_data.values()
                   if isinstance(v, list) and v and isinstance(v[-1], dict) and v[-1].get("role") == "assistant")
    final = history[-1]["content"]
    assert "live" not in history[-1]
    first = final[:len(final) - len("".join(got.get("pieces", [])))]
    assert first and first + "".join(got.get("pieces", [])) == final  # the first words, then all the rest
    # After its first words, the answer's updates through Gradio are its final one and the kept copies, not one per
    # piece (before them, a random model's first tokens may be empty: a count of tokens may be shown)
    assert len(updates) <= 2, [json.dumps(u)[:200] for u in updates]


def live_span_lengths(pg) -> None:
    """Record in window.__live the longest text any light-stream span held, and whether one is there now."""
    pg.evaluate("""() => {
        window.__live = 0;
        new MutationObserver(() => {
            document.querySelectorAll('#chat-box span.live-text').forEach(s => {
                window.__live = Math.max(window.__live, s.textContent.length); });
        }).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")


def stop_once_text_streams(page, witness) -> None:
    """One attempt of ``prove_abort``: a long answer asked in a cleared chat, Stop once its text comes on the light
    stream, and the witness's check that vLLM stopped it before its end."""
    page.locator("#chat-clear").click()
    expect(page.locator("#chat-box [data-testid='bot']")).to_have_count(0)
    page.evaluate("window.__live = 0")
    # (locked until the step after the last attempt's stopped answer: the Stop's effect)
    page.locator("#chat-input textarea").fill("Write a very long story about the sea.", timeout=ms(ENGINE_WAIT_S))
    page.locator("#chat-send").click()
    witness.wait_decoding(arrived=lambda: page.evaluate("window.__live") > 0)
    page.locator("#chat-stop").click()
    witness.check()  # stopped in vLLM before its end: no final update came to settle the message


def test_the_page_writes_the_light_stream_into_the_message_and_ends_with_the_rendered_answer(light_page, browser,
                                                                                            output_dir):
    """The longest greedy answer (seconds of tokens on this machine), so that the page's script is following it
    before it ends; an attempt whose answer ended before any text came on the light stream (a stalled browser)
    proves nothing and is made again, three at most: a page that never writes the stream fails them all."""
    _, url = light_page
    with open_page(browser, url, output_dir, "light-stream") as page:
        set_generation(page, **LONG_ANSWER)
        live_span_lengths(page)
        streamed = 0
        for _ in range(3):
            page.locator("#chat-clear").click()
            expect(page.locator("#chat-box [data-testid='bot']")).to_have_count(0)
            expect(page.locator("#chat-stats")).to_have_text("")
            page.evaluate("window.__live = 0")
            page.locator("#chat-input textarea").fill("Write a long story about the sea.")
            page.locator("#chat-send").click()
            expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
            # the final update replaced it
            expect(page.locator("#chat-box span.live-text")).to_have_count(0, timeout=ms(ENGINE_WAIT_S))
            streamed = page.evaluate("window.__live")
            if streamed:
                break
        assert streamed > 0, "no text arrived on the light stream in three answers"
        assert len(page.locator("#chat-box [data-testid='bot']").inner_text()) >= streamed


def test_stop_on_the_light_stream_keeps_what_was_shown_and_the_next_question_works(light_page, browser,
                                                                                    output_dir, engines):
    _, url = light_page
    with open_page(browser, url, output_dir, "light-stream-stop") as page:
        set_generation(page, **LONG_ANSWER)
        live_span_lengths(page)

        prove_abort(engines, LONG_ANSWER["max_tokens"], lambda witness: stop_once_text_streams(page, witness))
        # settled by the step after the answer: the message holds the text itself, rendered; no span waits
        expect(page.locator("#chat-box span.live-text")).to_have_count(0, timeout=ms(ENGINE_WAIT_S))
        shown = page.evaluate("window.__live")
        bot = page.locator("#chat-box [data-testid='bot']")
        expect(bot).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
        assert len(bot.inner_text()) >= shown * 0.9 > 0  # (Markdown may drop a few marks when rendered)
        set_generation(page, max_tokens=16)
        page.locator("#chat-input textarea").fill("hello")
        page.locator("#chat-send").click()
        expect(page.locator("#chat-box [data-testid='user']")).to_have_count(2)
        expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))

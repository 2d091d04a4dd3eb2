"""Conversations in the real page (headless Chromium, real engines): kept in the browser across a reload, edited,
retried and undone in place, downloaded and loaded back (and sent to ``/chat`` as history), and "Show request",
whose Python script, run as it is against the same server, makes a prompt of the same size.

Random weights: the assertions are on turns, their texts as typed, token counts and finish reasons.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from demo.errors import MESSAGES
from demo.inputs.conversation import clean_text
from tests.app.conftest import app_page
from tests.app.test_browser import set_generation
from tests.waits import ENGINE_WAIT_S, app_client, ms, wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"
STATS = re.compile(r"(\d+) prompt \+ (\d+) completion tokens.*finish: (\w+)")


def users(page, box: str):
    """The questions in a chat box: a question with images shows each part as its own element; its text is one."""
    return page.locator(f"{box} [data-testid='user']").filter(has_not=page.locator("img"))


def shown(text: str | None) -> str:
    """A message's text as a document keeps it: the gate cleans it as typed text is (``clean_text``: control
    characters and ANSI escapes dropped, not replaced; random weights write some), and the page's spacing may
    differ. (Replacing them with a space failed a fresh-clone run: the page's text read ``exp '`` where the
    document's read ``exp'``.)"""
    return " ".join(clean_text(text or "").split())


def images_in(page, box: str):
    return page.locator(f"{box} [data-testid='user'] img")


def bots(page, box: str):
    return page.locator(f"{box} [data-testid='bot']")


def stats_of(page, tab: str) -> tuple[int, int, str]:
    """(prompt tokens, completion tokens, finish reason) of the tab's last answer, once it has ended."""
    line = page.locator(f"#{tab}-stats .answer-stats")
    expect(line).to_be_visible(timeout=ms(ENGINE_WAIT_S))
    prompt, completion, finish = STATS.search(line.inner_text()).groups()
    return int(prompt), int(completion), finish


def ask_chat(page, text: str, questions: int) -> tuple[int, int, str]:
    """Send a chat message and wait for its answer's stats (a fresh stats line: the send clears the old one);
    ``questions``: how many the conversation then holds."""
    page.locator("#chat-input textarea").fill(text)
    page.locator("#chat-send").click()
    expect(users(page, "#chat-box")).to_have_count(questions)
    expect(page.locator("#chat-input textarea")).to_be_enabled(timeout=ms(ENGINE_WAIT_S))  # unlocked after the answer
    return stats_of(page, "chat")


def ask_image(page, text: str, questions: int) -> tuple[int, int, str]:
    page.locator("#image-question textarea").fill(text)
    page.locator("#image-ask").click()
    expect(users(page, "#image-chat")).to_have_count(questions)
    expect(page.locator("#image-question textarea")).to_be_enabled(timeout=ms(ENGINE_WAIT_S))
    return stats_of(page, "image")


def load_file(page, tab: str, path: Path) -> None:
    """Choose a file with the tab's "Load conversation" button, as a person does."""
    with page.expect_file_chooser() as chooser:
        page.locator(f"#{tab}-load").click()
    chooser.value.set_files(str(path))


def stored_size(page, tab: str) -> int:
    """The length of what the browser keeps for a tab (encrypted by Gradio's BrowserState: only its size shows)."""
    return page.evaluate(f"() => (localStorage.getItem('qwen3-vl-demo-{tab}') || '').length")


def code_text(page, elem_id: str) -> str:
    """The whole text of a ``gr.Code``, as its own Download link gives it (CodeMirror draws only the lines in
    view, so the page's text is not all of it)."""
    link = page.locator(f"#{elem_id} a.download-link")
    if not link.count():
        return ""
    return page.evaluate("href => fetch(href).then(r => r.text())", link.get_attribute("href"))


def test_a_reload_keeps_each_tab_conversation_and_new_conversation_clears_it(page):
    set_generation(page, max_tokens=16)
    page.get_by_text("System prompt", exact=True).click()
    page.locator("#chat-system textarea").fill("You keep watch.")
    ask_chat(page, "remember the lighthouse", 1)
    chat_answer = bots(page, "#chat-box").first.text_content()
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    ask_image(page, "what is in the cup?", 1)
    wait_until(lambda: stored_size(page, "image") > 10_000, "the browser to keep the conversation, its image inside")

    page.reload(timeout=ms(ENGINE_WAIT_S))
    # Both conversations come back from the browser's storage, turns and texts as they were, the image too (each
    # tab's page-load step reads and checks what was kept: on the engine bound).
    expect(users(page, "#chat-box")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    expect(users(page, "#chat-box").first).to_contain_text("remember the lighthouse", timeout=ms(ENGINE_WAIT_S))
    expect(bots(page, "#chat-box")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    assert shown(bots(page, "#chat-box").first.text_content()) == shown(chat_answer)
    page.get_by_text("System prompt", exact=True).click()
    expect(page.locator("#chat-system textarea")).to_have_value("You keep watch.",  # kept with its conversation
                                                                timeout=ms(ENGINE_WAIT_S))
    page.get_by_role("tab", name="Image").click()
    expect(users(page, "#image-chat")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    expect(users(page, "#image-chat").first).to_contain_text("what is in the cup?", timeout=ms(ENGINE_WAIT_S))
    expect(images_in(page, "#image-chat")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    # ... and the restored one goes on: a follow-up is answered with the earlier turn (and image) in its prompt
    set_generation(page, max_tokens=16)
    prompt, _, _ = ask_image(page, "and the saucer?", 2)
    assert prompt > 64  # the image's visual tokens are in it, not only the two short questions

    # "New conversation" (and Clear) make the browser forget it: what it keeps shrinks to an empty document.
    assert stored_size(page, "image") > 10_000 and stored_size(page, "chat") > 500  # the image is inside
    page.locator("#image-clear").click()
    page.get_by_role("tab", name="Chat").click()
    page.locator("#chat-clear").click()
    expect(users(page, "#chat-box")).to_have_count(0)
    wait_until(lambda: stored_size(page, "image") < 200 and stored_size(page, "chat") < 200,
               "the browser to forget both conversations")


def test_edit_retry_and_undo_replace_the_right_turn(page):
    set_generation(page, max_tokens=16)
    ask_chat(page, "first question", 1)
    first_answer = bots(page, "#chat-box").first.text_content()
    _, completion, finish = ask_chat(page, "second question", 2)
    assert (completion, finish) == (16, "length")

    # Retry: the last answer is made again (with up to 32 tokens now: a new answer, not the old one), the first
    # stays. (The slider's least is 16.)
    old_stats = page.locator("#chat-stats").inner_text()
    set_generation(page, max_tokens=32)
    page.locator("#chat-box button[aria-label='Retry']").click()
    expect(page.locator("#chat-stats")).not_to_have_text(old_stats, timeout=ms(ENGINE_WAIT_S))
    # While the step runs, Gradio's "processing" overlay sits over the old line (a fresh-clone run read the old
    # line then): the retried answer's own line is the one after the overlay is gone.
    expect(page.locator("#chat-stats")).not_to_contain_text("processing", timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-stats")).not_to_have_text(old_stats, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-input textarea")).to_be_enabled(timeout=ms(ENGINE_WAIT_S))
    _, completion, finish = stats_of(page, "chat")
    # (a fresh-clone run once failed here with no word of what the line said: it says it now)
    assert (completion == 32) if finish == "length" else (completion <= 32), \
        (page.locator("#chat-stats").inner_text(), page.get_by_label("Max new tokens").first.input_value())
    expect(users(page, "#chat-box")).to_have_count(2, timeout=ms(ENGINE_WAIT_S))
    expect(bots(page, "#chat-box")).to_have_count(2, timeout=ms(ENGINE_WAIT_S))
    assert bots(page, "#chat-box").first.text_content() == first_answer

    # Edit the first question: it says the new text, later turns are gone, and it is answered again.
    page.locator("#chat-box button[aria-label='Edit']").first.click()
    page.locator("#chat-box textarea").first.fill("the first question, edited")
    page.locator("#chat-box button[aria-label='Submit']").click()
    expect(users(page, "#chat-box")).to_have_count(1)
    expect(users(page, "#chat-box").first).to_contain_text("the first question, edited")
    expect(bots(page, "#chat-box")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-input textarea")).to_be_enabled(timeout=ms(ENGINE_WAIT_S))
    stats_of(page, "chat")

    # Undo: the last question and its answer go, its text comes back into the box.
    ask_chat(page, "a question to take back", 2)
    page.locator("#chat-box button[aria-label='Undo']").click()
    # (a queued step that writes the conversation's file in the engines' pool of threads: on the engine bound)
    expect(users(page, "#chat-box")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#chat-input textarea")).to_have_value("a question to take back", timeout=ms(ENGINE_WAIT_S))

    # In the Image tab an edited question keeps its image.
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    ask_image(page, "what animal?", 1)
    page.locator("#image-chat button[aria-label='Edit']").first.click()
    page.locator("#image-chat textarea").first.fill("what colour is it?")
    page.locator("#image-chat button[aria-label='Submit']").click()
    expect(users(page, "#image-chat").first).to_contain_text("what colour is it?")
    expect(users(page, "#image-chat")).to_have_count(1)
    expect(images_in(page, "#image-chat")).to_have_count(1)
    expect(page.locator("#image-question textarea")).to_be_enabled(timeout=ms(ENGINE_WAIT_S))
    prompt, _, _ = stats_of(page, "image")
    assert prompt > 64  # the image went with the edited question


def test_the_request_shown_run_as_it_is_makes_a_prompt_of_the_same_size(page, engines, output_dir):
    set_generation(page, max_tokens=16)
    page.get_by_text("System prompt", exact=True).click()
    page.locator("#chat-system textarea").fill("You answer in one line.")
    ask_chat(page, "name a colour", 1)
    prompt, _, _ = ask_chat(page, 'and "another" one?\nwith a second line', 2)
    page.locator("#chat-request").click()
    wait_until(lambda: "with a second line" in code_text(page, "chat-request-python"), "the last answer's request")
    script = code_text(page, "chat-request-python")
    assert "127.0.0.1" not in script and engines.server.endpoint.api_key not in script  # nothing of the server
    path = output_dir / "shown-request.py"
    path.write_text(script)
    env = dict(os.environ, OPENAI_BASE_URL=engines.server.endpoint.base_url,
               OPENAI_API_KEY=engines.server.endpoint.api_key)
    run = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True,
                         timeout=ENGINE_WAIT_S)
    assert run.returncode == 0, run.stderr[-2000:]
    usage = re.search(r"^usage: prompt_tokens=(\d+) completion_tokens=(\d+)$", run.stdout, re.MULTILINE)
    assert usage, run.stdout[-500:]
    assert int(usage.group(1)) == prompt
    assert int(usage.group(2)) == 16  # the same max_tokens (random weights run to the limit)

    # The curl command's body is the same request: run it too.
    wait_until(lambda: "with a second line" in code_text(page, "chat-request-curl"), "the curl command")
    curl = code_text(page, "chat-request-curl")
    run = subprocess.run(["bash", "-c", curl], env=env, capture_output=True, text=True, timeout=ENGINE_WAIT_S)
    assert run.returncode == 0, run.stderr[-2000:]
    counts = [int(n) for n in re.findall(r'"prompt_tokens":\s*(\d+)', run.stdout)]
    assert counts and counts[-1] == prompt

    # An earlier answer shows its own request: the first turn's prompt is smaller.
    bots(page, "#chat-box").first.click()
    wait_until(lambda: "another" not in code_text(page, "chat-request-python"), "the first answer's own request")
    assert "name a colour" in code_text(page, "chat-request-python")


def test_a_downloaded_conversation_loads_back_and_is_chat_history(page, browser, app_url, output_dir):
    set_generation(page, max_tokens=16)
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    ask_image(page, "what is in the cup?", 1)
    answer = bots(page, "#image-chat").first.text_content()
    with page.expect_download() as download:
        page.locator("#image-download").click()
    saved = output_dir / "downloaded-conversation.json"
    download.value.save_as(saved)
    doc = json.loads(saved.read_text())
    assert doc["tab"] == "image" and [t["role"] for t in doc["turns"]] == ["user", "assistant"]

    # Loaded into a fresh page (another browser profile: nothing kept there), it is the same conversation.
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = app_page(context, app_url)
        other.get_by_role("tab", name="Image").click()
        load_file(other, "image", saved)
        # (the file is read, checked and its image written by the app before the conversation shows)
        expect(users(other, "#image-chat")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
        expect(users(other, "#image-chat").first).to_contain_text("what is in the cup?", timeout=ms(ENGINE_WAIT_S))
        expect(images_in(other, "#image-chat")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
        expect(bots(other, "#image-chat")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
        assert shown(bots(other, "#image-chat").first.text_content()) == shown(answer)
        set_generation(other, max_tokens=16)
        page_prompt, _, _ = ask_image(other, "and the saucer?", 2)
    finally:
        context.close()

    # The same file as /chat's history: the same prompt as the page's follow-up (the image included).
    client = app_client(app_url)
    stats, _, reasoning = client.predict("and the saucer?", "", doc, 0.7, 0.8, 20, 16, 1.5, api_name="/chat")
    assert int(STATS.search(stats).group(1)) == page_prompt
    assert reasoning == ""  # an Instruct model does not think
    # A file that is not a conversation is a sentence, and the page keeps what it had.
    bad = output_dir / "not-a-conversation.json"
    bad.write_text('{"hello": 1}')
    load_file(page, "image", bad)
    expect(page.locator("[data-testid='toast-body']").filter(has_text=MESSAGES["import_not_ours"][:40])).to_be_visible(
        timeout=ms(ENGINE_WAIT_S))
    expect(users(page, "#image-chat")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))

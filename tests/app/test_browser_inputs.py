"""Bad input in the real page (headless Chromium): markup in messages and filenames is shown as text, never
rendered; too many images in one conversation is a sentence; the page keeps working after each."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from demo.errors import MESSAGES
from demo.inputs.images import MAX_IMAGES
from tests import badfiles
from tests.app.steps import new_image_conversation
from tests.waits import ENGINE_WAIT_S, ms

ASSETS = Path(__file__).resolve().parents[2] / "assets"
MARKUP = "<img src=x onerror=alert(1)><b>bold</b> & <i>it</i> `<u>code</u>`"


def watch_dialogs(page) -> list:
    """Alerts the page opens (markup that ran would open one)."""
    opened: list = []
    page.on("dialog", lambda d: (opened.append(d.message), d.dismiss()))
    return opened


def no_markup_elements(page, scope: str) -> None:
    for tag in ("b", "i", "u", "script", "img[src='x']"):
        assert page.locator(f"{scope} {tag}").count() == 0, f"a <{tag}> element was made from user text"


def test_markup_in_a_chat_message_is_shown_as_text(page):
    dialogs = watch_dialogs(page)
    page.locator("#chat-input textarea").fill(MARKUP)
    page.locator("#chat-send").click()
    user = page.locator("#chat-box [data-testid='user']")
    expect(user).to_have_count(1)
    expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))  # answered
    # (as the answer left it: its updates draw the whole conversation again)
    expect(user).to_contain_text("<img src=x onerror=alert(1)><b>bold</b> & <i>it</i>", timeout=ms(ENGINE_WAIT_S))
    expect(user).to_contain_text("`<u>code</u>`", timeout=ms(ENGINE_WAIT_S))
    no_markup_elements(page, "#chat-box [data-testid='user']")
    assert dialogs == []
    # and the chat goes on
    page.locator("#chat-input textarea").fill("hello")
    page.locator("#chat-send").click()
    expect(page.locator("#chat-box [data-testid='user']")).to_have_count(2)
    expect(page.locator("#chat-box [data-testid='bot']")).to_have_count(2, timeout=ms(ENGINE_WAIT_S))


def test_markup_in_filenames_is_never_rendered(page, tmp_path):
    dialogs = watch_dialogs(page)
    images = badfiles.make_images(tmp_path)
    page.get_by_role("tab", name="Image").click()
    # a file that is not an image, named with markup: the sentence quotes its name as text
    fake = tmp_path / "<b>notes<b><img src=x onerror=alert(1)>.png"
    fake.write_text("not a picture")
    page.locator("#image-gallery input[type=file]").set_input_files(str(fake))
    page.locator("#image-ask").click()
    toast = page.locator("[data-testid='toast-body']").filter(has_text="could not be read as an image")
    expect(toast).to_be_visible()
    no_markup_elements(page, "[data-testid='toast-body']")
    no_markup_elements(page, "#image-gallery")
    new_image_conversation(page)
    # an image named with markup is answered, and its name makes no element either
    page.locator("#image-gallery input[type=file]").set_input_files(str(images[badfiles.MARKUP_NAME]))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-question textarea").fill(MARKUP)
    page.locator("#image-ask").click()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-chat [data-testid='user']").last).to_contain_text("<b>bold</b>",
                                                                                  timeout=ms(ENGINE_WAIT_S))
    for scope in ("#image-gallery", "#image-chat [data-testid='user']"):
        no_markup_elements(page, scope)
    assert dialogs == []


def test_more_images_than_a_conversation_holds_is_a_sentence(page, tmp_path):
    paths = []
    for i in range(MAX_IMAGES + 1):
        path = tmp_path / f"picture-{i}.png"
        badfiles.photo(64 + 8 * i, 48).save(path)
        paths.append(str(path))
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(paths)
    expect(page.locator("#image-gallery img")).to_have_count(MAX_IMAGES + 1)
    page.locator("#image-ask").click()
    sentence = MESSAGES["too_many_images"].format(limit=MAX_IMAGES)
    expect(page.locator("[data-testid='toast-body']").filter(has_text=sentence)).to_be_visible()
    expect(page.locator("#image-chat [data-testid='user']")).to_have_count(0)  # nothing was sent
    # a new conversation with one picture is answered
    new_image_conversation(page)
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-ask").click()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))


def test_an_upload_deleted_under_a_live_conversation_is_a_sentence_and_nothing_is_lost(page, tmp_path):
    """Gradio deletes uploads hours after they came (demo/ui/page.py, DELETE_CACHE); the next turn of that
    conversation reads the image again. It gets a sentence without the file's path, not FileNotFoundError."""
    import secrets
    from urllib.parse import unquote

    from demo.inputs.conversation import UPLOAD_HOURS

    path = tmp_path / f"gone-{secrets.token_hex(4)}.png"  # content of its own: Gradio's cache is keyed by content
    badfiles.photo(96 + secrets.randbelow(64), 64).save(path)
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-gallery input[type=file]").set_input_files(str(path))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-ask").click()
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
    # the server's copy, deleted as Gradio's sweep would delete it
    src = page.locator("#image-chat [data-testid='user'] img").first.get_attribute("src")
    server_copy = Path(unquote(src.split("file=", 1)[1]))
    assert server_copy.is_file() and server_copy.name == path.name, src
    server_copy.unlink()
    follow_up = "And what colours are in it?"
    page.locator("#image-question textarea").fill(follow_up)
    page.locator("#image-ask").click()
    sentence = MESSAGES["image_gone"].format(hours=UPLOAD_HOURS)
    toast = page.locator("[data-testid='toast-body']").filter(has_text=sentence)
    expect(toast).to_be_visible(timeout=ms(ENGINE_WAIT_S))  # (from the answer's step, in the engines' group)
    assert str(server_copy.parent) not in toast.inner_text() and path.name not in toast.inner_text()
    expect(page.locator("#image-question textarea")).to_have_value(follow_up,  # what was typed is kept
                                                                   timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-chat [data-testid='bot']")).to_have_count(1,  # and the first answer
                                                                          timeout=ms(ENGINE_WAIT_S))
    # a new conversation goes on as usual
    new_image_conversation(page)
    page.locator("#image-gallery input[type=file]").set_input_files(str(ASSETS / "coffee.jpg"))
    expect(page.locator("#image-gallery img").first).to_be_visible()
    page.locator("#image-ask").click()
    expect(page.locator("#image-chat [data-testid='bot']")).to_have_count(1, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#image-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))

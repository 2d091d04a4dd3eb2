"""The page in English and in Chinese (issue 29), in headless Chromium on the real engines: the browser's language
picks the page's, Gradio's Settings and the header's switch change it, and the sentences the server writes (an error
toast, an answer's stats line) follow the language the page shows.

Only the app's own words are checked exactly (the model's answers are random-weight noise)."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import expect

from demo.errors import MESSAGES, MESSAGES_ZH
from tests.app.conftest import open_page
from tests.waits import ENGINE_WAIT_S, ms, wait_until

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TOAST = "[data-testid='toast-body']"


def shows_language(page, tabs: list[str], send: str, placeholder: str, switch: str) -> None:
    for name in tabs:
        expect(page.get_by_role("tab", name=name, exact=True)).to_be_visible()
    expect(page.locator("#chat-send")).to_have_text(send)
    expect(page.locator("#chat-input textarea")).to_have_attribute("placeholder", placeholder)
    expect(page.locator("#lang-switch")).to_have_text(switch)  # the switch names the other language


def cookie_says(page, lang: str) -> None:
    """The page told the server its language (assets/lang.js): the cookie every event sends."""
    wait_until(lambda: {c["name"]: c["value"] for c in page.context.cookies()}.get("demo_lang") == lang,
               f"the demo_lang cookie to be {lang!r}")


def toast_for_missing_image(page, tab: str, sentence: str) -> None:
    """Ask in the Image tab without an image: the catalogue's "image_missing" sentence, in the page's language."""
    page.get_by_role("tab", name=tab, exact=True).click()
    page.locator("#image-ask").click()
    expect(page.locator(TOAST).filter(has_text=sentence)).to_be_visible(timeout=ms(ENGINE_WAIT_S))


def answer_briefly(page, accordion: str, max_tokens: str) -> None:
    """Sixteen new tokens at most, set through the labels the page shows (set_generation reads the English ones)."""
    page.get_by_text(accordion, exact=True).click()
    box = page.get_by_label(max_tokens).first
    for _ in range(3):  # a value typed while the accordion opens can be reset (tests/app/test_browser.py)
        box.fill("16")
        box.press("Enter")
        if box.input_value() == "16":
            break
    expect(box).to_have_value("16")


def header_says(page, chip: str, plan: str) -> None:
    """The header, which the server writes (not Gradio's translation): its server chip and the plan's label in the
    page's language, from the redraw the page's load asks for, or the next tick after a switch."""
    expect(page.locator("[data-engine='server']")).to_have_text(chip, timeout=ms(ENGINE_WAIT_S))
    expect(page.locator("#app-header .plan-label")).to_have_text(plan)


def test_a_chinese_browser_gets_the_page_and_its_errors_in_chinese(browser, app_url, output_dir):
    with open_page(browser, app_url, output_dir, "language-zh", locale="zh-CN") as page:
        shows_language(page, ["聊天", "图像", "视频", "实时", "文档"], "发送", "输入消息，按回车发送", "English")
        expect(page.get_by_text("系统提示词", exact=True)).to_be_visible()
        cookie_says(page, "zh")
        header_says(page, "服务器：就绪", "设备规划")
        # a real answer: its stats line in Chinese, its numbers as in English
        answer_briefly(page, "生成设置（所有标签页通用）", "最多生成 token 数")
        page.locator("#chat-input textarea").fill("你好")
        page.locator("#chat-send").click()
        expect(page.locator("#chat-stats")).to_contain_text("结束原因：", timeout=ms(ENGINE_WAIT_S))
        expect(page.locator("#chat-stats")).to_contain_text(" 个 token")
        expect(page.locator("#chat-stats")).not_to_contain_text("completion tokens")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.evaluate("() => window.scrollTo(0, 0)")  # the header, the tabs and the answer
        page.screenshot(path=str(output_dir / "zh.png"))
        shutil.copy(output_dir / "zh.png", SCREENSHOTS / "zh.png")
        # an error toast: the Chinese catalogue's sentence, under a Chinese title
        toast_for_missing_image(page, "图像", MESSAGES_ZH["image_missing"])


def test_an_english_browser_gets_the_page_and_its_errors_in_english(browser, app_url, output_dir):
    with open_page(browser, app_url, output_dir, "language-en", locale="en-US") as page:
        shows_language(page, ["Chat", "Image", "Video", "Live", "Document"], "Send",
                       "Type a message and press Enter", "中文")
        cookie_says(page, "en")
        header_says(page, "server: ready", "Device plan")
        toast_for_missing_image(page, "Image", MESSAGES["image_missing"])
        # the header's switch: Chinese, though the browser's language is English
        page.locator("#lang-switch").click()
        shows_language(page, ["聊天", "图像", "视频"], "发送", "输入消息，按回车发送", "English")
        cookie_says(page, "zh")
        header_says(page, "服务器：就绪", "设备规划")  # at the header's next redraw
        toast_for_missing_image(page, "图像", MESSAGES_ZH["image_missing"])


def test_switching_the_language_in_the_page_switches_its_texts_and_its_errors(browser, app_url, output_dir):
    with open_page(browser, app_url, output_dir, "language-switch", locale="zh-CN") as page:
        shows_language(page, ["聊天", "图像"], "发送", "输入消息，按回车发送", "English")
        # Gradio's Settings (the footer's link): English
        page.locator("footer").get_by_text("设置", exact=True).click()
        page.get_by_role("combobox", name="Language").click()
        page.get_by_role("option", name="English", exact=True).click()
        page.locator("[role=dialog] .banner-wrap > button").first.click()  # the panel's close button
        expect(page.locator("[role=dialog]")).to_be_hidden()
        shows_language(page, ["Chat", "Image"], "Send", "Type a message and press Enter", "中文")
        cookie_says(page, "en")
        # the browser still asks for Chinese (Accept-Language), but the page shows English: so does the toast
        toast_for_missing_image(page, "Image", MESSAGES["image_missing"])
        # the header's switch: back to Chinese, and the next toast with it
        page.locator("#lang-switch").click()
        shows_language(page, ["聊天", "图像"], "发送", "输入消息，按回车发送", "English")
        cookie_says(page, "zh")
        toast_for_missing_image(page, "图像", MESSAGES_ZH["image_missing"])

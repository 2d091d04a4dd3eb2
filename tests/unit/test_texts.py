"""The page in English and Chinese (issue 29): every text and every error sentence in both languages with the same
fields, every key the code uses registered, and the server's sentences in the language the visitor's page shows."""

from __future__ import annotations

import importlib
import pkgutil
import re
import string
from pathlib import Path
from types import SimpleNamespace

import pytest

import demo.ui
from demo.engines.client import AnswerStats
from demo.errors import MESSAGES, MESSAGES_ZH, ImageError, UserFacingError, message
from demo.settings import Settings
from demo.ui import texts
from demo.ui.common import describe_stats, localized
from demo.ui.page import launch_kwargs

DEMO = Path(__file__).resolve().parents[2] / "demo"
CJK = re.compile(r"[\u4e00-\u9fff]")

# every module of the page imported: each registers its texts at import
for _module in pkgutil.walk_packages(demo.ui.__path__, "demo.ui."):
    importlib.import_module(_module.name)


def fields_of(template: str) -> list[tuple[str, str]]:
    """A template's fields with their format specs, sorted: "{limit:.0f}" -> [("limit", ".0f")]."""
    return sorted((name, spec or "") for _, name, spec, _ in string.Formatter().parse(template) if name is not None)


def test_every_error_sentence_is_in_both_languages_with_the_same_fields():
    assert set(MESSAGES_ZH) == set(MESSAGES), (f"missing in Chinese: {sorted(set(MESSAGES) - set(MESSAGES_ZH))}; "
                                               f"not in English: {sorted(set(MESSAGES_ZH) - set(MESSAGES))}")
    for code, english in MESSAGES.items():
        assert fields_of(MESSAGES_ZH[code]) == fields_of(english), code
        assert CJK.search(MESSAGES_ZH[code]), f"{code}: the Chinese sentence holds no Chinese"


def test_every_page_text_is_in_both_languages_with_the_same_fields():
    entries = texts.registered()
    assert len(entries) > 40  # the tabs' texts are there, not only this module's
    for key, (english, chinese) in entries.items():
        assert english.strip() and chinese.strip(), key
        assert fields_of(english) == fields_of(chinese), key


def test_a_key_registered_twice_with_other_words_is_refused():
    with pytest.raises(ValueError):
        texts.texts({"tab.chat": ("Chat", "对话框")})
    with pytest.raises(ValueError):
        texts.texts({"test.only_english": ("Chat", "")})
    with pytest.raises(KeyError):
        texts.t("test.never_registered")


def used(pattern: str) -> set[str]:
    """What ``pattern`` finds in demo's source (texts.py, which defines the calls and names a "key" in its
    docstrings, aside)."""
    found = set()
    for path in DEMO.rglob("*.py"):
        if path != DEMO / "ui" / "texts.py":
            found |= set(re.findall(pattern, path.read_text()))
    return found


def test_every_key_the_code_uses_is_registered():
    keys = used(r"""\bt\(\s*["']([\w.]+)["']""") | used(r"""\bsay\(\s*["']([\w.]+)["']""")
    assert len(keys) > 40
    assert keys - set(texts.registered()) == set()


def test_every_code_the_page_tells_or_raises_is_in_the_catalogue():
    codes = used(r"""\btell\(\s*["'](\w+)["']\)""") | used(r"""\berror\(\s*["'](\w+)["']""")
    assert {"empty", "image_missing", "missing", "bad_settings"} <= codes
    assert codes - set(MESSAGES) == set()


def test_the_page_gets_every_text_and_a_language_switch():
    kwargs = launch_kwargs(Settings())
    translations = kwargs["i18n"].translations_dict
    assert set(translations) == {"en", "zh"}  # "zh" serves zh-CN, zh-TW... (the browser falls back to it)
    for i, lang in enumerate(("en", "zh")):
        assert translations[lang] == {key: pair[i] for key, pair in texts.registered().items()}
    assert translations["zh"]["tab.image"] == "图像" and translations["en"]["tab.image"] == "Image"
    assert "settings" in kwargs["footer_links"]  # Gradio's Settings: the language
    assert "demo_lang" in kwargs["js"] and "page-lang" in kwargs["js"]  # assets/lang.js tells the server


def request(cookie: str | None = None, accept: str | None = None):
    """What ``gr.Request`` offers here: cookies and headers (lower-case names, as Starlette reads any case)."""
    return SimpleNamespace(cookies={"demo_lang": cookie} if cookie else {},
                           headers={"accept-language": accept} if accept else {})


@pytest.mark.parametrize("cookie, accept, lang", [
    ("zh", "en-US,en;q=0.9", "zh"),  # the page's own language (a switch in Settings) wins
    ("en", "zh-CN,zh;q=0.9", "en"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),  # no page (an API caller): its Accept-Language
    (None, "zh-TW", "zh"),
    (None, "fr-FR,fr;q=0.9,zh;q=0.5,en;q=0.4", "zh"),  # the first of ours by weight
    (None, "en;q=0.3,zh;q=0.2", "en"),
    (None, "de-DE", "en"),  # none of ours: English
    (None, None, "en"),
    ("fr", None, "en"),  # a cookie that is no language of ours is ignored
])
def test_the_language_of_a_request(cookie, accept, lang):
    assert texts.request_language(request(cookie, accept)) == lang


def test_outside_a_request_the_language_is_english():
    assert texts.request_language() == "en"
    assert texts.say("video.done") == "Done."
    assert texts.say("video.done", "zh") == "完成。"


def test_an_error_says_itself_in_either_language():
    exc = ImageError("image_too_large", name="cat.png", size="200 megapixels", limit=120.0)
    assert str(exc) == MESSAGES["image_too_large"].format(name="cat.png", size="200 megapixels", limit=120.0)
    assert exc.sentence("en") == str(exc)
    assert exc.sentence("zh") == "“cat.png”太大（200 megapixels），上限是 120 百万像素。"
    assert message("empty", "zh") == "请输入一条消息。"


def test_a_toast_is_in_the_visitors_language():
    assert localized(UserFacingError("image_missing"), "zh") == MESSAGES_ZH["image_missing"]
    assert localized("image_missing", "zh") == MESSAGES_ZH["image_missing"]  # a code
    assert localized(MESSAGES["empty"], "zh") == MESSAGES_ZH["empty"]  # the English sentence of a code
    assert localized("image_missing", "en") == MESSAGES["image_missing"]
    assert localized("something else happened", "zh") == "something else happened"


def test_the_stats_line_keeps_its_english_form_and_its_numbers_in_chinese():
    stats = AnswerStats("stop", 12, 30, 0.25, 1.25, reasoning_tokens=4, cached_tokens=8)
    assert describe_stats(stats, "en") == stats.describe()  # tests and benches parse "N prompt + M completion"
    chinese = describe_stats(stats, "zh")
    assert chinese == ("首个 token 0.25 s · 29.0 token/s · 输入 12 + 输出 30 个 token（其中思考 4 个） · "
                       "输入中 8 个 token 命中缓存 · 结束原因：stop")

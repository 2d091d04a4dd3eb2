"""The page's words in English and Chinese, for ``gr.I18n``: each module that shows text registers its own entries
(``TEXTS = texts({...})``) and writes ``t("key")`` where a label, hint or static sentence goes; the browser picks the
language (and Gradio's Settings switch it). Error sentences are not here: they live in one catalogue,
``demo/errors.py``, in both languages.
"""

from __future__ import annotations

import gradio as gr
from gradio.i18n import I18nData

LANGUAGES = ("en", "zh")
_ALL: dict[str, tuple[str, str]] = {}  # key -> (English, Chinese), from every module's texts()


def texts(entries: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Register a module's entries; a key registered twice with other words is a mistake caught at import."""
    for key, pair in entries.items():
        if _ALL.get(key, pair) != pair:
            raise ValueError(f"text key {key!r} registered twice with different words")
        if len(pair) != 2 or not all(isinstance(s, str) and s for s in pair):
            raise ValueError(f"text key {key!r} needs an English and a Chinese text")
    _ALL.update(entries)
    return entries


def t(key: str) -> I18nData:
    """A label, hint or static text the browser shows in its language. The key must be registered first."""
    if key not in _ALL:
        raise KeyError(f"text key {key!r} is not registered (texts({{...}}) in its module)")
    return I18nData(key)


def registered() -> dict[str, tuple[str, str]]:
    return dict(_ALL)


def i18n() -> gr.I18n:
    """Every registered text, for ``launch(i18n=...)``. "zh" covers zh-CN, zh-TW and the rest (Gradio falls back
    from a region to its language)."""
    return gr.I18n(**{lang: {k: pair[i] for k, pair in _ALL.items()} for i, lang in enumerate(LANGUAGES)})


# --- the language of the person behind the current request, for what the server writes (toasts, API errors) ---
# The page's texts are translated in the browser; a sentence the server makes (an error toast, a stats line) is
# made in the language the page shows. The page keeps a cookie equal to it (assets/lang.js, which follows the
# "lang.code" text that the browser translates, so a switch in Gradio's Settings is followed too); a caller without
# it (gradio_client, curl) gets its Accept-Language's first language of ours, else English.
LANG_COOKIE = "demo_lang"

TEXTS = texts({
    "lang.code": ("en", "zh"),  # the hidden element that tells assets/lang.js the page's language
    "lang.switch": ("中文", "English"),  # the header's switch names the other language
})


def from_accept_language(header: str | None) -> str | None:
    """The first of our languages in an Accept-Language header, by preference weight (``zh-CN,zh;q=0.9,en;q=0.8``
    gives "zh"); None when it names none of them."""
    best, best_q = None, 0.0
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and q > best_q:  # the first of equal weights wins (strictly greater)
            best, best_q = lang, q
    return best


def request_language(request=None) -> str:
    """"en" or "zh" for ``request`` (a ``gr.Request``; by default the current event's): its page's cookie, else its
    Accept-Language, else English. Outside an event (a test, a log line), English."""
    if request is None:
        from gradio.context import LocalContext
        request = LocalContext.request.get(None)
    if request is None:
        return "en"
    try:
        cookie = request.cookies.get(LANG_COOKIE)
        headers = request.headers
    except AttributeError:  # a request Gradio made up without its HTTP one (an event run from Python)
        return "en"
    if cookie in LANGUAGES:
        return cookie
    return from_accept_language(headers.get("accept-language")) or "en"


def say(key: str, lang: str | None = None, **fields) -> str:
    """A registered text as plain words in ``lang`` (default: the current request's), for what the server writes
    into a value (a stats line, a caption); ``fields`` fill its ``{placeholders}``."""
    pair = _ALL[key]
    words = pair[LANGUAGES.index(lang or request_language())]
    return words.format(**fields) if fields else words

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

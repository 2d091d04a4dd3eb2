"""The chat box's view of a conversation with thinking, and the turns that its edit, retry and undo events change
(demo/inputs/conversation.py, demo/ui/answering.py); the request an earlier answer is shown with
(demo/ui/request_view.py); reasoning coalesced apart from the answer (demo/engines/client.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from demo.engines.client import AnswerStats, Thinking, coalesce, request_kwargs
from demo.engines.params import GenerationParams
from demo.inputs.conversation import THINKING_TITLE, assistant_turn, to_chatbot, to_openai, turn_of_message, user_turn
from demo.ui.answering import edited, retried, undone
from demo.ui.request_view import request_of_turn, sent_of

IMAGE = "/nonexistent/cat.png"  # the chat box's view reads no file


def conversation() -> list[dict]:
    return [user_turn("look", [IMAGE]), assistant_turn("a cat", "I see fur", 1.234),
            user_turn("and now?"), assistant_turn("", "still thinking"),  # streaming: thinking, no answer yet
            ]


def test_thinking_is_a_collapsible_message_before_its_answer_open_only_while_it_thinks():
    assert to_chatbot(conversation())[5]["metadata"]["status"] == "done"  # not streaming (stopped): no spinner
    messages = to_chatbot(conversation(), streaming=True)
    assert [m["role"] for m in messages] == ["user", "user", "assistant", "assistant", "user", "assistant"]
    done, answer, pending = messages[2], messages[3], messages[5]
    assert done["metadata"] == {"title": THINKING_TITLE, "status": "done", "duration": 1.2}
    assert assistant_turn("x", "r", 0.01)["thinking_s"] == 0.1  # a duration of 0 would show no time
    assert done["content"] == "I see fur" and answer == {"role": "assistant", "content": "a cat"}
    assert pending["metadata"] == {"title": THINKING_TITLE, "status": "pending"}
    assert messages[0]["content"] == [{"path": IMAGE}] and messages[1]["content"] == "look"  # apart (edit works)
    assert turn_of_message(conversation(), 0) == turn_of_message(conversation(), 1) == 0


def test_an_answer_without_text_has_no_message_and_the_indices_follow_what_is_shown():
    history = [user_turn("q1"), assistant_turn(""), user_turn("q2"), assistant_turn("a2", "r2", 0.5)]
    messages = to_chatbot(history)
    assert len(messages) == 4  # q1, (no empty answer), q2, thinking, a2
    assert [turn_of_message(history, i) for i in range(4)] == [0, 2, 3, 3]
    assert turn_of_message(history, 4) is None and turn_of_message(history, (1, 0)) == 2
    assert turn_of_message(history, "x") is None


def test_reasoning_is_never_sent_back_to_the_model():
    history = [user_turn("q"), assistant_turn("the answer", "long reasoning", 2.0, {"params": {}, "system": ""}),
               user_turn("more")]
    assert to_openai(history) == [{"role": "user", "content": "q"},
                                  {"role": "assistant", "content": "the answer"},
                                  {"role": "user", "content": "more"}]


def two_turns() -> list[dict]:
    return [user_turn("first"), assistant_turn("one", "r", 1.0), user_turn("second"), assistant_turn("two")]


def test_retry_keeps_the_conversation_up_to_the_question_gradio_names():
    history = two_turns()
    # Gradio sends the index of the last user message in the chat box: here message 3 (thinking adds one)
    assert retried(history, SimpleNamespace(index=3)) == history[:3]
    assert retried(history, SimpleNamespace(index=2)) == history  # an answer's index changes nothing


def test_undo_takes_back_the_question_and_gives_its_text():
    history = two_turns()
    assert undone(history, SimpleNamespace(index=3)) == (history[:2], "second")
    assert undone(history, SimpleNamespace(index=0)) == ([], "first")


def test_edit_replaces_the_question_keeps_its_images_and_drops_later_turns():
    history = two_turns()
    assert edited(history, SimpleNamespace(index=0, value="first, edited\x00")) == [user_turn("first, edited")]
    with_image = [user_turn("what?", [IMAGE]), assistant_turn("a cat")]
    assert edited(with_image, SimpleNamespace(index=0, value=[{"type": "text", "text": "which colour?"}])) == [
        user_turn("which colour?", [IMAGE])]


def test_an_earlier_answer_is_shown_with_the_request_that_made_it():
    params = GenerationParams(0.3, 0.9, 5, 77, 0.0)
    system = "Be brief."
    first = request_kwargs("M", to_openai([user_turn("hi")], system), params)
    history = [user_turn("hi"), assistant_turn("hello", sent=sent_of(first, system)), user_turn("again"),
               assistant_turn("hey")]
    assert request_of_turn("M", history, 1) == first
    assert request_of_turn("M", history, 3) is None  # no "sent": nothing is made up
    assert request_of_turn("M", history, 0) is None and request_of_turn("M", history, 9) is None


async def _pieces(items):
    for item in items:
        yield item


def test_reasoning_is_coalesced_apart_from_the_answer_and_before_it():
    stats = AnswerStats("stop", 1, 6, 0.1, 0.2)
    items = [Thinking("a"), Thinking("b"), "x", "y", Thinking("late"), "z", stats]
    out = asyncio.run(asyncio.wait_for(_collect(coalesce(_pieces(items), 10.0)), 30))
    # the first piece at once, then one flush: reasoning first, then text; a reasoning piece after text keeps its
    # place (the text before it goes out first); nothing lost
    assert out == [Thinking("a"), Thinking("b"), "xy", Thinking("late"), "z", stats]


async def _collect(agen):
    return [item async for item in agen]

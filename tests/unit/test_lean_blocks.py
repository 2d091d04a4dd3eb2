"""LeanBlocks (demo/ui/lean_blocks.py): the same updates as Gradio's own Blocks, without a component rebuilt for
an output that an event leaves alone."""

from __future__ import annotations

import asyncio
import json

import gradio as gr
import pytest
from gradio.state_holder import SessionState

from demo.ui.lean_blocks import LeanBlocks


def page(blocks_class):
    with blocks_class() as demo:
        chat = gr.Chatbot()
        box = gr.Textbox()
        kept = gr.State([])
        button = gr.Button("Send")
        button.click(lambda: None, None, [chat, box, kept, button])
        box.submit(lambda: None, None, [box])
    return demo, {"chat": chat, "box": box, "kept": kept, "button": button}


def sent(blocks_class, make_predictions, which: int = 0):
    """What the event's outputs send to the browser, the session it leaves, and how many Chatbots were built."""
    demo, parts = page(blocks_class)
    fn = demo.default_config.fns[which]
    state = SessionState(demo)
    out = asyncio.run(demo.postprocess_data(fn, make_predictions(parts), state))
    return json.loads(json.dumps(out, default=lambda o: o.model_dump())), state, parts


@pytest.fixture
def chatbots_built(monkeypatch):
    count = {"n": 0}
    init = gr.Chatbot.__init__

    def counted(self, *args, **kwargs):
        count["n"] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(gr.Chatbot, "__init__", counted)
    return count


CASES = {
    "one output": lambda p: {p["box"]: "some text"},
    "state and button": lambda p: {p["kept"]: [1, 2], p["button"]: gr.update(interactive=False)},
    "explicit skips": lambda p: {p["chat"]: gr.skip(), p["box"]: gr.skip(), p["kept"]: ["x"]},
    "nothing but skips": lambda p: {p["chat"]: gr.skip()},
    "every output": lambda p: {p["chat"]: [{"role": "user", "content": "hi"}], p["box"]: "",
                               p["kept"]: [3], p["button"]: gr.update(value="Stop")},
    "a list": lambda p: [[{"role": "assistant", "content": "yes"}], "t", [4], gr.skip()],
}


@pytest.mark.parametrize("case", CASES)
def test_an_event_sends_what_gradios_own_blocks_send_and_keeps_the_same_session(case):
    ours, our_state, our_parts = sent(LeanBlocks, CASES[case])
    theirs, their_state, their_parts = sent(gr.Blocks, CASES[case])
    assert ours == theirs
    assert our_state.state_data.get(our_parts["kept"]._id) == their_state.state_data.get(their_parts["kept"]._id)
    ours_now, theirs_now = ({name: state.get(parts[name]._id, parts[name]) for name in ("box", "button")}
                            for state, parts in ((our_state, our_parts), (their_state, their_parts)))
    assert ours_now["box"].get_config() == theirs_now["box"].get_config()
    # (Gradio's copy for a skip loses a positional argument: the button's label; LeanBlocks keep the button)
    assert ours_now["button"].interactive == theirs_now["button"].interactive


def test_a_skipped_output_costs_no_component_built(chatbots_built):
    """Gradio's own Blocks build the chat box again for an update that leaves it alone; LeanBlocks do not."""
    sent(gr.Blocks, CASES["one output"])
    assert chatbots_built["n"] == 2  # the page's own Chatbot, then Gradio's copy for the skip
    chatbots_built["n"] = 0
    ours, _, _ = sent(LeanBlocks, CASES["one output"])
    assert chatbots_built["n"] == 1  # the page's own only
    assert ours == [{"__type__": "update"}, "some text", None, {"__type__": "update"}]


def test_a_single_output_event_is_gradios_own():
    ours, _, _ = sent(LeanBlocks, lambda p: {p["box"]: "x"}, which=1)
    theirs, _, _ = sent(gr.Blocks, lambda p: {p["box"]: "x"}, which=1)
    assert ours == theirs == ["x"]

"""The lean Gradio session (demo/ui/sessions.py): it stands in for Gradio's own, on this Gradio."""

from __future__ import annotations

import gc

import gradio as gr
from gradio.state_holder import StateHolder

from demo.engines.server import free_port
from demo.ui.sessions import LeanSession, forget_finished_bodies, lean_sessions
from tests.raw_http import raw_call
from tests.waits import wait_until


def small_page() -> gr.Blocks:
    with gr.Blocks() as page:
        box = gr.Textbox()
        kept = gr.State([])
        gr.Button().click(lambda t, k: k + [t], [box, kept], [kept])
    return page


def test_a_lean_session_has_every_attribute_of_gradios_own():
    """If Gradio's SessionState.__init__ gains an attribute, the lean one (which does not call it) must too."""
    page = small_page()
    gradios = LeanSession.__mro__[1]
    assert gradios.__module__ == "gradio.state_holder"
    assert set(vars(gradios(page))) == set(vars(LeanSession(page)))


def test_the_state_holder_makes_lean_sessions_that_keep_state_and_no_values():
    page = small_page()
    lean_sessions()
    holder = StateHolder()
    holder.set_blocks(page)
    session = holder["abc"]
    assert isinstance(session, LeanSession)
    kept_id = next(k for k, b in page.blocks.items() if isinstance(b, gr.State))
    box_id = next(k for k, b in page.blocks.items() if isinstance(b, gr.Textbox))
    session[kept_id] = ["a value"]
    session._update_value_in_config(box_id, "a long input")
    assert holder["abc"][kept_id] == ["a value"]  # gr.State is kept
    assert box_id not in session.config_values  # the input's value is not
    assert holder["abc"] is session


def test_a_replaced_component_is_kept_without_building_its_config(monkeypatch):
    """A ``gr.update`` of a property replaces the component in the session; Gradio's own session also built that
    component's whole config (its API schema through pydantic) twice, for the copy no route of this app reads."""
    page = small_page()
    session = LeanSession(page)
    box_id = next(k for k, b in page.blocks.items() if isinstance(b, gr.Textbox))
    built = []
    monkeypatch.setattr(type(session.blocks_config), "config_for_block",
                        staticmethod(lambda *a, **k: built.append(a) or {}))
    locked = gr.Textbox(interactive=False, render=False)
    session[box_id] = locked
    session._update_config(box_id)
    assert session[box_id] is locked  # the replaced component is what later events read
    assert built == [] and session.config_values == {}


def queue_events_holding_a_body(page: gr.Blocks) -> list:
    """``page``'s queue events that still hold a request body (other pages of the test process are not looked at:
    one of theirs may be running)."""
    from gradio.queueing import Event

    fns = list(page.fns.values())
    return [o for o in gc.get_objects()
            if isinstance(o, Event) and o.data is not None and any(o.fn is fn for fn in fns)]


def test_a_finished_events_body_is_not_kept_until_the_next_event():
    """Gradio's queue loop holds its last event in a local variable until another comes; without
    ``forget_finished_bodies`` that event still carries the request it ran (a 32 MB document, parsed)."""
    with gr.Blocks() as page:
        box, out = gr.Textbox(), gr.Number()
        box.submit(len, box, out, api_name="size")
    page.queue()
    forget_finished_bodies(page._queue)
    _, url, _ = page.launch(prevent_thread_lock=True, server_port=free_port(), quiet=True)
    try:
        status, events = raw_call(url.rstrip("/"), "size", ["x" * 100_000])
        assert status == 200 and events[-1]["msg"] == "process_completed"
        assert events[-1]["output"]["data"] == [100_000]  # the event ran, and its answer came back
        # The answer reaches the client just before the queue's loop finishes the event: wait for that step
        # (seconds at most on a stalled machine), not for the next event, which never comes here.
        wait_until(lambda: queue_events_holding_a_body(page) == [], "the finished event to drop its body", 120)
    finally:
        page.close()

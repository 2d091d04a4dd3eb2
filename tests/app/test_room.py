"""A room of many visitors (issue 30), on the real engines and the real page: what a visitor leaves behind, and the
pace the page shows. Assertions are on state and structure, never on durations."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.app.conftest import open_page
from tests.conftest import launched_page
from tests.waits import ENGINE_WAIT_S, ms, wait_until


@pytest.fixture(scope="module")
def quick_forgetting_page(engines):
    """The page with a closed tab's state kept one second (the setting's default is a minute)."""
    with launched_page(engines, closed_state_ttl=1.0) as launched:
        yield launched


def sessions_with_state(server_app) -> dict[str, int]:
    """Every session the page keeps, with how many ``gr.State`` values it holds now."""
    holder = server_app.state_holder
    return {key: len(session.state_data) for key, session in list(holder.session_data.items())}


def test_a_closed_tabs_conversation_is_freed(quick_forgetting_page, browser, output_dir):
    """Gradio keeps a closed tab's state an hour in case it comes back; the app keeps it --closed-state-ttl."""
    server_app, url = quick_forgetting_page
    before = set(sessions_with_state(server_app))
    with open_page(browser, url, output_dir, "closed-tab") as page:
        page.locator("#chat-input textarea").fill("hello")
        page.locator("#chat-send").click()
        expect(page.locator("#chat-stats")).to_contain_text("completion tokens", timeout=ms(ENGINE_WAIT_S))
        visitor = {k: n for k, n in sessions_with_state(server_app).items() if k not in before and n}
        assert len(visitor) == 1, visitor  # this tab's session, holding its conversation
        (session,) = visitor
    # the tab is closed (its heartbeat stream ends: Gradio marks the session closed)
    wait_until(lambda: not server_app.state_holder.session_data[session].state_data,
               "the closed tab's state to be freed", 120)


def test_the_header_shows_how_often_answers_update(page, engines):
    """Between --stream-interval and the longest interval (a stall of this machine may stretch it for a while)."""
    from demo.engines.pacing import LONGEST_S

    pace = page.locator("#app-header .pace")
    expect(pace).to_contain_text("answers update every")
    ms = int(pace.get_attribute("data-interval-ms"))
    assert round(engines.settings.stream_interval * 1000) <= ms <= LONGEST_S * 1000


def test_a_chat_beyond_the_fixed_limit_is_admitted_while_the_server_keeps_up(engines):
    """--concurrency-limit 2 with --max-concurrency 8: a third long chat is generated at once, not queued behind
    the other two (the old fixed limit queued it until one of them ended)."""
    from tests.app.test_load import LONG, chat_args
    from tests.waits import app_client, cancel_now

    with launched_page(engines, concurrency_limit=2, max_concurrency=8) as (server_app, url):
        group = lambda: server_app.get_blocks()._queue.event_queue_per_concurrency_id.get("server")  # noqa: E731
        clients = [app_client(url) for _ in range(3)]  # a session each, as three visitors
        jobs = [c.submit(*chat_args("Write a very long story about the sea.", LONG), api_name="/chat")
                for c in clients]
        client_of = {id(job): c for job, c in zip(jobs, clients)}
        try:
            wait_until(lambda: group() is not None and group().current_concurrency >= 3,
                       "three answers being generated at once", 300)
            assert group().concurrency_limit > 2
        finally:
            for job in jobs:
                cancel_now(url, client_of[id(job)], job, "/chat")

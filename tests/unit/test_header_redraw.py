"""demo.ui.header.redraw_every: every open tab redraws the header (a request each time), often while an engine
starts, seldom once all are ready (a hundred tabs at one a second were a hundred requests a second)."""

from __future__ import annotations

from demo.engines.status import EngineStatus
from demo.ui.header import SETTLED_S, STARTING_S, redraw_every


def status(state: str) -> EngineStatus:
    return EngineStatus("server", state, 0.0)


def test_a_tab_redraws_often_while_an_engine_starts_and_seldom_once_all_are_ready():
    assert SETTLED_S > STARTING_S
    assert redraw_every([status("ready"), status("ready")]) == SETTLED_S
    assert redraw_every([status("ready"), status("starting")]) == STARTING_S
    assert redraw_every([status("error")]) == STARTING_S  # a failure or a restart is shown soon
    assert redraw_every([]) == STARTING_S

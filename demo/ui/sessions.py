"""Sessions that keep what the page needs and not a copy of every input (issues 26 and 30).

Gradio keeps, for every session it has seen, a ``SessionState``: the visitor's ``gr.State`` values, the
components an event replaced (``gr.update`` of a property), and ``config_values``, a private copy of the whole page's
config into which it writes the last value of every input and output of every event (``blocks.py``,
``process_api``: ``state._update_value_in_config``). That copy serves one route, ``/gradio_api/deep_link`` (the
"share this state" button, which this app does not show), and costs:

- about 290 KB and 82 ms of CPU per session before any event (143 components' configs, built in
  ``SessionState.__init__``; ``tracemalloc`` and a timer over 100 and 200 sessions of this page);
- the last value of every input: an API caller who sent a 32 MB ``history`` leaves about 34 MB behind, for as long
  as the session is kept, and API callers never close theirs (``bench/RESULTS-memory.md``: 200 such callers
  grew the app from 198 MB to 7 GB);
- every answer once more, beside its ``gr.State``.

A closed tab's state is kept an hour by Gradio, in case it reconnects; a :class:`LeanSession` keeps it ``--closed-
state-ttl`` seconds (a reload starts a new session anyway, and brings a conversation back from the browser's copy).
A :class:`LeanSession` keeps the same state and replaced components and no copy at all: its ``config_values`` stays
empty (a deep link carries nothing). Gradio also built a replaced component's config twice (``__setitem__`` and
``_update_config``) for that copy at every ``gr.update`` of a property (a button locked or unlocked, the Download
button's file): its API schema through pydantic, 12 % of the event loop with 256 visitors of the Chat tab (py-spy,
issue 30). Gradio's ``StateHolder`` makes every session through the name ``SessionState`` of its own module;
:func:`lean_sessions` points that name at this class, once, and refuses to run on a Gradio whose ``StateHolder`` no
longer does so (a test says the same), rather than silently keeping the copies.
"""

from __future__ import annotations

import datetime
import os
from copy import copy
from typing import Any, TypeAlias

from gradio import state_holder
from gradio.state_holder import SessionState

_GRADIO_SESSION: TypeAlias = SessionState


class LeanSession(_GRADIO_SESSION):
    """A Gradio session without the per-session copy of the page's config and of every value it received."""

    closed_ttl_s: float = 3600.0  # set by lean_sessions from --closed-state-ttl

    def __init__(self, blocks) -> None:
        # Gradio's own __init__ builds the full copy (82 ms of the event loop per new session on the 2-core machine,
        # measured over 200 sessions of this page); this sets what the other methods read, and no more.
        self.blocks_config = copy(blocks.default_config)
        self.config_values: dict[int, Any] = {}
        self.state_data: dict[int, Any] = {}
        self._state_ttl: dict[int, Any] = {}
        self.is_closed = False
        # Gradio keeps a closed tab's state an hour (a second in its own browser tests); this app as long as set
        self.STATE_TTL_WHEN_CLOSED = 1 if os.getenv("GRADIO_IS_E2E_TEST", None) else self.closed_ttl_s

    def _update_value_in_config(self, key: int, value: Any) -> None:
        """Gradio calls this with every input and output value of every event: nothing is kept."""

    def __setitem__(self, key: int, value: Any) -> None:
        """Gradio's own, without the config it built for the copy: a ``gr.State`` value, or a replaced component."""
        from gradio.components import State

        block = self.blocks_config.blocks.get(key)
        if isinstance(block, State):
            self._state_ttl[key] = (block.time_to_live, datetime.datetime.now())
            self.state_data[key] = value
        else:
            self.blocks_config.blocks[key] = value

    def _update_config(self, key: int) -> None:
        """Gradio calls this after replacing a component (``gr.update`` of a property): nothing to copy."""


def lean_sessions(closed_ttl_s: float = 3600.0) -> None:
    """Every session Gradio makes from now on is a :class:`LeanSession` (idempotent), whose state Gradio frees
    ``closed_ttl_s`` seconds after its tab closed (Gradio checks every second)."""
    names = state_holder.StateHolder.__getitem__.__code__.co_names
    if "SessionState" not in names:
        raise RuntimeError("gradio.state_holder.StateHolder no longer makes sessions through SessionState: "
                           "demo/ui/sessions.py must be brought up to date with this Gradio")
    state_holder.SessionState = LeanSession
    LeanSession.closed_ttl_s = closed_ttl_s


def forget_finished_bodies(queue: Any) -> None:
    """A finished event's request body is dropped at once (issue 30, memory). Gradio's queue loop keeps its last
    batch of events in a local variable until the next event comes (``Queue.start_processing``), and with it the
    request's body: after an API caller sent a 32 MB conversation, about 100 MB of parsed JSON stayed until someone
    else asked something (``gc.get_referrers``, bench/RESULTS-memory.md). Nothing reads a body once its event has
    run: the event is gone from the queue's tables by then (``process_events``' ``finally``)."""
    if not hasattr(queue, "process_events"):
        raise RuntimeError("this Gradio's queue runs events otherwise: demo/ui/sessions.py must be brought up to date")
    run = queue.process_events

    async def process_events(events: list, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run(events, *args, **kwargs)
        finally:
            for event in events:
                event.data = None

    queue.process_events = process_events

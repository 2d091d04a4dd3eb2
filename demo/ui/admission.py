"""The page's queue lets in as many chat and image answers as demo/engines/admission.py says, every tick.

Gradio keeps one queue per concurrency group (``server`` holds every chat, image and Find event) with a limit it
reads each time it looks for an event to run, so the limit can move while the app runs. Two things of Gradio's
are set to let it: each ``server`` event's own limit becomes the ceiling (Gradio lowers the group's limit to an
event's own whenever one is queued), and Gradio's worker slots (``max_threads``, launch_kwargs) have room for the
ceiling. Beyond the limit, a visitor waits in Gradio's queue and sees their place in it.
"""

from __future__ import annotations

import threading

import gradio as gr

from ..engines.admission import STEP, TICK_S, next_limit
from ..engines.engines import Engines
from ..settings import Settings

GROUP = "server"


class Admission:
    """A daemon thread that sets the ``server`` group's limit every ``TICK_S`` while ``demo`` runs."""

    def __init__(self, demo: gr.Blocks, engines: Engines, settings: Settings):
        self.demo, self.engines = demo, engines
        self.floor = settings.concurrency_limit
        self.ceiling = max(settings.max_concurrency, settings.concurrency_limit)
        self.limit = self.floor
        for fn in demo.fns.values():
            if fn.concurrency_id == GROUP:
                fn.concurrency_limit = self.ceiling

    def start(self) -> None:
        threading.Thread(target=self._run, name="admission", daemon=True).start()

    def tick(self) -> int | None:
        """Set the limit once; the limit set, or None before the page's queue has the group."""
        queue = getattr(self.demo, "_queue", None)
        group = queue.event_queue_per_concurrency_id.get(GROUP) if queue is not None else None
        if group is None:
            return None
        running = group.current_concurrency
        if running + STEP <= self.floor:  # the limit is the floor whatever the server says: no need to ask it
            self.limit = self.floor
        else:
            waiting = self.engines.server_waiting()
            self.limit = next_limit(running, self.floor, self.ceiling, waiting, self.engines.pacers.saturated())
        group.concurrency_limit = self.limit
        return self.limit

    def _run(self) -> None:
        stop = threading.Event()
        launched = False
        while not stop.wait(TICK_S):
            running = self.demo.is_running
            if launched and not running:  # the page was closed
                return
            launched = launched or running
            if running:
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - a failed tick keeps the last limit; the next one tries again
                    pass


def admit_from_load(demo: gr.Blocks, engines: Engines, settings: Settings) -> Admission | None:
    """Start following the server and the app (``--max-concurrency`` above ``--concurrency-limit``), or None
    when the limit is fixed. ``settings``: the page's (a test's page may differ from its engines')."""
    if settings.max_concurrency <= settings.concurrency_limit:
        return None
    admission = Admission(demo, engines, settings)
    admission.start()
    return admission

"""One app process of several (``demo/fleet``): the whole page, with the engines mirrored from the engines'
process. Started by ``AppProcess.start``, which writes ``(index, settings, shared)`` on its standard input."""

from __future__ import annotations

import pickle
import signal
import sys


def main() -> None:
    index, settings, shared = pickle.load(sys.stdin.buffer)

    from ..ui import build_demo, launch_kwargs, live
    from .mirror import mirrored_engines
    from .routing import ticket_prefix

    def on_stop_signal(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_stop_signal)
    live.LIVE.prefix = ticket_prefix(index)  # the front finds an answer's light stream by its ticket
    engines = mirrored_engines(settings, shared)
    try:
        build_demo(settings, engines).launch(**launch_kwargs(settings), quiet=True)
    except KeyboardInterrupt:
        pass
    finally:
        engines.stop()


if __name__ == "__main__":
    main()

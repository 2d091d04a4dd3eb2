"""Qwen3-VL-4B-Instruct on vLLM: a Gradio page with Chat, Image and Video tabs.

settings -> engines (co-launched vLLM server + video worker) -> page -> launch. The page comes up at once and
shows the engines' start-up; every engine process is stopped when the app exits (Ctrl-C, SIGTERM, normal).
On a Space, settings come from environment variables (``QWEN_DEMO_*``, ``GRADIO_SERVER_NAME``).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys


def main(argv: list[str] | None = None) -> None:
    from demo.engines.engines import Engines
    from demo.engines.model import ModelSourceError
    from demo.engines.placement import detect_gpus
    from demo.engines.server import free_port, port_is_free
    from demo.fleet import app_processes, serve
    from demo.settings import Settings
    from demo.ui import build_demo, launch_kwargs

    settings = Settings.from_args(argv)
    if settings.app_port == 0:  # Gradio would scan from 7860; 0 means any free port, as for --port
        settings = dataclasses.replace(settings, app_port=free_port(settings.host))
    print(settings.describe(), flush=True)
    # Checked before any engine starts: a taken port must not leave a half-started app holding a GPU.
    if settings.app_port and not port_is_free(settings.app_port, settings.host):
        sys.exit(f"error: port {settings.app_port} on {settings.host} is already in use. Stop what uses it, "
                 f"or choose another port with --app-port or GRADIO_SERVER_PORT (0 picks a free one).")
    try:
        engines = Engines.create(settings)
    except (ModelSourceError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    print(f"Device plan: {engines.plan.describe()}", flush=True)
    for note in engines.plan.notes:
        print(f"  note: {note}", flush=True)
    print(f"Engine logs: {engines.log_dir}", flush=True)

    def on_stop_signal(signum, frame):  # SIGTERM takes the same clean exit as Ctrl-C
        raise KeyboardInterrupt

    # SIGINT too: a shell without job control starts background commands with SIGINT ignored, and Python then
    # keeps it ignored; Ctrl-C or `kill -INT` must still stop the app and its engines (seen in CI).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_stop_signal)
    processes = app_processes(settings.app_processes, len(detect_gpus()), os.cpu_count() or 1, settings.share)
    engines.start()
    try:
        if processes > 1:  # the page served by several processes behind one address; this one runs no page
            serve(settings, engines, processes)
        else:
            build_demo(settings, engines).launch(**launch_kwargs(settings))
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping the engines…", flush=True)
        engines.stop()


if __name__ == "__main__":  # the video worker is spawned: this guard keeps it from re-running the app
    main()

"""Qwen3-VL-4B-Instruct on vLLM: a Gradio page with Chat, Image and Video tabs.

settings -> engines (co-launched vLLM server + video worker) -> page -> launch. The page comes up at once and
shows the engines' start-up; every engine process is stopped when the app exits (Ctrl-C, SIGTERM, normal).
On a Space, settings come from environment variables (``QWEN_DEMO_*``, ``GRADIO_SERVER_NAME``).
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str] | None = None) -> None:
    from demo.engines import Engines
    from demo.model_source import ModelSourceError
    from demo.settings import Settings
    from demo.ui import build_demo, launch_kwargs

    settings = Settings.from_args(argv)
    print(settings.describe(), flush=True)
    try:
        engines = Engines.create(settings)
    except (ModelSourceError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    print(f"Device plan: {engines.plan.describe()}", flush=True)
    for note in engines.plan.notes:
        print(f"  note: {note}", flush=True)
    print(f"Engine logs: {engines.log_dir}", flush=True)

    def on_sigterm(signum, frame):  # turn SIGTERM into the same clean exit as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    engines.start()
    try:
        build_demo(settings, engines).launch(**launch_kwargs(settings))
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping the engines…", flush=True)
        engines.stop()


if __name__ == "__main__":  # the video worker is spawned: this guard keeps it from re-running the app
    main()

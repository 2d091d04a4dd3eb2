"""Gradio's floor: the app's page settings around an endpoint that does no work.

``/stream`` takes the same first argument and returns the same two outputs as the app's ``/chat`` (stats,
answer) and yields ``n`` growing answers at once, with no sleep and no model: whatever time a client sees is
Gradio's own (queue, thread hop per item, diff, SSE, the client). Queue and launch settings are the app's
(``demo.ui.page``), so the only difference from the app is the work the app does. Run as
``python -m bench.floor_app`` with ``GRADIO_SERVER_PORT`` set.
"""

from __future__ import annotations


def build():
    import gradio as gr

    from demo.settings import Settings

    settings = Settings.from_args([])
    with gr.Blocks(title="floor") as demo:
        message = gr.Textbox(label="message")
        n = gr.Number(256, label="n")
        stats, answer = gr.Textbox(label="stats"), gr.Textbox(label="answer")
        trigger = gr.Button()

        def stream(message, n):
            text = ""
            for _ in range(int(n)):
                text += " tok"
                yield "", text
            yield "done", text

        trigger.click(stream, [message, n], [stats, answer], api_name="stream", concurrency_id="server")
    demo.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.max_queue_size)
    return demo, settings


def main() -> None:
    import os

    from demo.ui import launch_kwargs

    demo, settings = build()
    kwargs = launch_kwargs(settings)
    kwargs.update(server_name="127.0.0.1", server_port=int(os.environ["GRADIO_SERVER_PORT"]))
    demo.launch(**kwargs)


if __name__ == "__main__":
    main()

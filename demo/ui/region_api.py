"""The API's region endpoint (issue 29): ``/ask_region`` answers a question about a region of an image, given as a
0-1000 box, the way the Image tab's region picker asks it (demo/inputs/region.py: the question names the box as
Qwen3-VL writes boxes, and a small region also goes zoomed in, as a second image)."""

from __future__ import annotations

from contextlib import aclosing
from typing import cast

import gradio as gr

from ..engines.engines import Engines
from ..errors import UserFacingError
from ..inputs import region
from ..inputs.conversation import Turn, clean_text
from ..inputs.images import check_image
from .common import answer_updates, as_gradio_error, closed_with_its_run, error, params_from

DEFAULT_QUESTION = "Describe this region."


def register(engines: Engines, gen: list) -> None:
    """``/ask_region`` (image, box, question, then build_api's generation settings ``gen``); streams (stats, answer,
    reasoning) as ``/describe_image`` does."""
    with gr.Column(visible=False):
        image = gr.File(label="image", type="filepath")  # checked by content in the handler
        box = gr.JSON(label="box")  # [x1, y1, x2, y2] or "x1,y1,x2,y2", 0-1000
        question = gr.Textbox(DEFAULT_QUESTION, label="question")
        stats, answer = gr.Textbox(label="stats"), gr.Textbox(label="answer")
        reasoning = gr.Textbox(label="reasoning")
        trigger = gr.Button()

    @closed_with_its_run
    async def ask_region(image, box, question, temperature, top_p, top_k, max_tokens, presence_penalty, thinking):
        """Answer a question about a region of one image: box [x1, y1, x2, y2] (or "x1,y1,x2,y2") relative to the
        image on a 0-1000 scale; streams (stats, answer, reasoning)."""
        if not image:
            raise error("image_missing")
        params = params_from(temperature, top_p, top_k, max_tokens, presence_penalty, thinking)
        try:
            picked = region.parse_box(box)
            await engines.run_blocking(check_image, image)
            turn = cast(Turn, await engines.run_blocking(region.region_turn, image, picked,
                                                         clean_text(question).strip() or DEFAULT_QUESTION))
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None
        async with aclosing(answer_updates(engines, [turn], "", params)) as s:
            async for update in s:
                yield update

    trigger.click(ask_region, [image, box, question, *gen], [stats, answer, reasoning], api_name="ask_region",
                  concurrency_id="server")

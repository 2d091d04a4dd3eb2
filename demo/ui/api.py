"""Stateless API endpoints for ``gradio_client`` and the Space's "Use via API" page.

``/chat``, ``/describe_image`` and ``/describe_video`` take their main inputs first and optional settings
after; each streams (stats, answer) with the answer text whole in its last update; ``/chat`` and
``/describe_image`` also give a thinking model's reasoning, apart, as a third output; ``/describe_image`` takes the
image's detail last ("low", "standard" or "high": its visual-token budget, issue 29). They run the same checks
as the page, because the API can be called without it. Their components are hidden.
"""

from __future__ import annotations

from contextlib import aclosing

import gradio as gr

from ..engines.engines import Engines
from ..engines.params import GenerationParams
from ..errors import UserFacingError
from ..inputs import grounding
from ..inputs.conversation import Turn, assistant_turn, clean_text, turn_images, turn_text, user_turn
from ..inputs.images import DEFAULT_DETAIL, check_image
from . import document_api, kept, region_api
from .common import answer_updates, as_gradio_error, closed_with_its_run, error, params_from, video_slots
from .image_find import KINDS, find_objects
from .video_run import DEFAULT_QUESTION as VIDEO_QUESTION
from .video_run import Answered, Partial, Reasoning, Status, run_video, sampling_from


def history_from_api(history) -> list[Turn]:
    """Validate an API caller's history: a list of {"role": "user"|"assistant", "content": str}, or a conversation
    downloaded from the page (its images too: they are written to files of their own and sent with their turns)."""
    if history in (None, "", []):
        return []
    if isinstance(history, dict) and "format" in history:
        try:
            return kept.open_document(history).history
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None
    if not isinstance(history, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
            for t in history):
        raise error("api_history_shape")
    return [user_turn(clean_text(t["content"])) if t["role"] == "user" else assistant_turn(clean_text(t["content"]))
            for t in history]


def video_turns(history: list[Turn]) -> tuple[tuple[str, str], ...]:
    """(question, answer) pairs of text from a validated history, which must alternate user, assistant. A
    document's images are refused: a turn's content list would otherwise reach the prompt as its Python repr, the
    server's file paths in it (issue 26)."""
    roles = [t["role"] for t in history]
    if roles != ["user", "assistant"] * (len(history) // 2):
        raise error("api_history_order")
    if any(turn_images(turn) for turn in history):
        raise error("video_history_images")
    return tuple((turn_text(history[i]), turn_text(history[i + 1])) for i in range(0, len(history), 2))


async def _video_updates(updates):
    """(stats, answer so far) from :func:`run_video`'s updates: text as it streams (video through the server),
    a yield at each status (Gradio ends the run there if the caller has gone), the stats last."""
    partial = ""
    async for update in updates:
        match update:
            case Partial(text):
                partial = text
                yield "", partial
            case Status() | Reasoning():
                yield "", partial
            case Answered(text, stats):
                yield stats, text


def build_api(engines: Engines) -> None:
    d = GenerationParams.recommended(engines.card.sampling if engines.card else None)
    with gr.Column(visible=False):
        message = gr.Textbox(label="message")
        system = gr.Textbox("", label="system_prompt")
        history = gr.JSON([], label="history")
        image = gr.File(label="image", type="filepath")  # checked by content in the handler
        image_question = gr.Textbox("Describe this image.", label="question")
        video_question = gr.Textbox(VIDEO_QUESTION, label="question")
        video = gr.Video(label="video")
        fps = gr.Number(2.0, label="fps")
        max_frames = gr.Number(64, label="max_frames")
        gen = [gr.Number(d.temperature, label="temperature"), gr.Number(d.top_p, label="top_p"),
               gr.Number(d.top_k, label="top_k"), gr.Number(d.max_tokens, label="max_tokens"),
               gr.Number(d.presence_penalty, label="presence_penalty"),
               # thinking first or not, for a model with the switch (Qwen3.5); "auto": the model's default
               gr.Radio(["auto", "on", "off"], value="auto", label="thinking")]
        stats, answer = gr.Textbox(label="stats"), gr.Textbox(label="answer")
        reasoning = gr.Textbox(label="reasoning")  # a thinking model's, apart from the answer ("" otherwise)
        phrase = gr.Textbox(label="phrase")
        kind = gr.Textbox("boxes", label="kind")
        found = gr.JSON(label="found")
        picture = gr.Image(label="image", type="filepath", format="png")
        # a Textbox, not a Radio: a value of no level gets the catalogue's sentence, not Gradio's own error
        detail = gr.Textbox(DEFAULT_DETAIL, label="detail")
        trigger = gr.Button()

    # Parameter names are the API's argument names (gradio_client keywords).
    @closed_with_its_run
    async def chat(message, system_prompt, history, temperature, top_p, top_k, max_tokens, presence_penalty,
                   thinking):
        """Answer a message, given an optional system prompt and earlier turns (a list of {"role", "content"}, or a
        conversation downloaded from the page); streams (stats, answer, reasoning)."""
        text = clean_text(message).strip()
        if not text:
            raise error("empty")
        earlier = await engines.run_blocking(history_from_api, history)  # (a downloaded one's images are written)
        async with aclosing(answer_updates(engines, earlier + [user_turn(text)],
                                    clean_text(system_prompt),
                                    params_from(temperature, top_p, top_k, max_tokens, presence_penalty,
                                                thinking))) as s:
            async for update in s:
                yield update

    @closed_with_its_run
    async def describe_image(image, question, temperature, top_p, top_k, max_tokens, presence_penalty,
                             thinking, detail=DEFAULT_DETAIL):
        """Answer a question about one image, sent at a detail of "low", "standard" or "high" (its visual-token
        budget); streams (stats, answer, reasoning)."""
        if not image:
            raise error("image_missing")
        try:
            await engines.run_blocking(check_image, image)
            turn = user_turn(clean_text(question).strip() or "Describe this image.", [image],
                             detail=DEFAULT_DETAIL if detail in (None, "") else detail,
                             max_model_len=engines.max_model_len)
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None
        async with aclosing(answer_updates(engines, [turn], "",
                                    params_from(temperature, top_p, top_k, max_tokens, presence_penalty,
                                                thinking))) as s:
            async for update in s:
                yield update

    @closed_with_its_run
    async def describe_video(video, question, fps, max_frames, temperature, top_p, top_k, max_tokens,
                             presence_penalty, thinking):
        """Answer a question about a video, sampled at fps up to max_frames; returns (stats, answer)."""
        params = params_from(temperature, top_p, top_k, max_tokens, presence_penalty, thinking)
        try:
            sampling = sampling_from(fps, max_frames, "360p", 0, 0)  # NaN, Infinity: as /chat (raw HTTP callers)
            async with aclosing(run_video(engines, video, question or VIDEO_QUESTION, sampling, params)) as s:
                async for update in _video_updates(s):
                    yield update
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None

    @closed_with_its_run
    async def ask_video(video, question, history, fps, max_frames, temperature, top_p, top_k, max_tokens,
                        presence_penalty, thinking):
        """A question about a video after earlier turns about it (history as /chat's, its first user turn the one
        the video went with); returns (stats, answer). The video is sampled again at each call: the page keeps
        the frames of a conversation, an API caller keeps only the text."""
        params = params_from(temperature, top_p, top_k, max_tokens, presence_penalty, thinking)
        try:
            turns = video_turns(await engines.run_blocking(history_from_api, history))
            sampling = sampling_from(fps, max_frames, "360p", 0, 0)
            async with aclosing(run_video(engines, video, question or VIDEO_QUESTION, sampling, params,
                                          turns)) as s:
                async for update in _video_updates(s):
                    yield update
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None

    @closed_with_its_run
    async def ground(image, phrase, kind):
        """Find what ``phrase`` names in an image: kind "boxes" or "points"; returns the list of
        {"bbox_2d" or "point_2d": [0-1000 coordinates], "label"} and the image with them drawn."""
        if kind not in KINDS:
            raise error("api_bad_kind", detail=", ".join(KINDS))
        try:
            objects, drawn_image, stats = await find_objects(engines, image, phrase, kind)
        except UserFacingError as exc:
            raise as_gradio_error(exc) from None
        yield grounding.as_json(objects), drawn_image

    trigger.click(chat, [message, system, history, *gen], [stats, answer, reasoning], api_name="chat",
                  concurrency_id="server")
    trigger.click(describe_image, [image, image_question, *gen, detail], [stats, answer, reasoning],
                  api_name="describe_image", concurrency_id="server")
    trigger.click(describe_video, [video, video_question, fps, max_frames, *gen], [stats, answer],
                  api_name="describe_video", concurrency_id="video", concurrency_limit=video_slots(engines.settings))
    trigger.click(ask_video, [video, video_question, history, fps, max_frames, *gen], [stats, answer],
                  api_name="ask_video", concurrency_id="video", concurrency_limit=video_slots(engines.settings))
    trigger.click(ground, [image, phrase, kind], [found, picture], api_name="ground", concurrency_id="server")
    # endpoints of their own modules, sharing the generation settings' inputs
    document_api.register(engines, gen)
    region_api.register(engines, gen)

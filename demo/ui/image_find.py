"""Finding things in an image (the Image tab's Find, the API's ``/ground``): ask Qwen3-VL for boxes or points
held to a JSON schema (vLLM's structured outputs, so the answer always parses), and draw them on the image the
person sent, at its own size. A chat answer about an image that holds such JSON is drawn the same way."""

from __future__ import annotations

import tempfile
import time
import uuid
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path

from ..engines.client import AnswerStats
from ..engines.engines import Engines
from ..engines.params import GenerationParams
from ..errors import ImageError, message
from ..inputs import grounding
from ..inputs.conversation import Turn, clean_text, to_openai, turn_images, turn_text, user_turn
from ..inputs.images import check_image, load_image
from ..outputs import boxes
from .texts import request_language, say, texts

TEXTS = texts({
    "find.found": ("{n} found: {labels}", "找到 {n} 个：{labels}"),
    "find.no_label": ("(no label)", "（无标签）"),
})

FIND_MAX_TOKENS = 1024  # twenty boxes with labels of 40 characters, compact: the schema's largest answer fits
KINDS = ("boxes", "points")
THINKING_ROOM = 2048  # tokens a thinking model may reason before its boxes (clamped to what the context has)
DRAWN_MAX_SIDE = 4096  # larger uploads (up to 120 MP) are drawn on a copy this size: a page shows no more
DRAWN_DIR = Path(tempfile.gettempdir()) / "qwen3-vl-demo-drawn"
DRAWN_KEEP_S = 3600  # Gradio copies each into its own cache (swept with the uploads); this folder is pruned


def drawn(path: str, found: list[grounding.Found]) -> str:
    """The image at ``path`` upright (as the model saw it) with ``found`` drawn on it, as a PNG file.

    A file, written here (in a worker thread): a PIL image given to Gradio would be encoded to PNG on its event
    loop, which a 12-megapixel photograph holds for a second or more, for every visitor."""
    image = load_image(path)
    if max(image.size) > DRAWN_MAX_SIDE:
        image.thumbnail((DRAWN_MAX_SIDE, DRAWN_MAX_SIDE))  # relative coordinates: the same places
    DRAWN_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in DRAWN_DIR.glob("*.png"):
        try:
            if now - old.stat().st_mtime > DRAWN_KEEP_S:
                old.unlink()
        except OSError:  # another request pruned it first
            pass
    out = DRAWN_DIR / f"found-{uuid.uuid4().hex}.png"
    boxes.draw(image, found).save(out)
    return str(out)


async def find_objects(engines: Engines, image: str, phrase, kind: str = "boxes"
                       ) -> tuple[list[grounding.Found], str, AnswerStats | None]:
    """Ask for the ``kind`` ("boxes" or "points") of what ``phrase`` names in ``image``; return what was found,
    the image with it drawn (a PNG file), and the answer's stats. Raises :class:`UserFacingError` with the sentence."""
    phrase = " ".join(clean_text(phrase).split())
    if not phrase:
        raise ImageError("ground_phrase")
    if not image:
        raise ImageError("image_missing")
    kind = kind if kind in KINDS else "boxes"
    await engines.run_blocking(check_image, image)
    messages = await engines.run_blocking(to_openai, [user_turn(grounding.prompt(phrase, kind), [image])], "",
                                            cancellable=True)
    # Greedy, the likeliest places; no presence penalty, which would push each coordinate away from the digits
    # already written (each digit is a token of its own in Qwen's vocabulary).
    # A thinking model thinks first (the schema holds only what follows '</think>'): room for that too.
    params = engines.for_a_schema(GenerationParams(max_tokens=FIND_MAX_TOKENS).greedy())
    params = replace(params, max_tokens=FIND_MAX_TOKENS + (THINKING_ROOM if engines.thinks(params) else 0))
    text, stats = "", None
    async with aclosing(engines.stream_chat(messages, params, json_schema=grounding.schema(kind))) as items:
        async for item in items:
            if isinstance(item, str):
                text += item
            elif isinstance(item, AnswerStats):
                stats = item
    found = grounding.parse(text)
    return found, await engines.run_blocking(drawn, image, found), stats


def found_in_answer(history: list[Turn]) -> tuple[list[grounding.Found], str | None]:
    """Boxes or points in the conversation's last answer (free text that holds the cookbook's JSON), and the
    latest image before it, to draw them on; ([], None) when there are none."""
    if len(history) < 2 or history[-1]["role"] != "assistant":
        return [], None
    found = grounding.parse(turn_text(history[-1]))
    images = [p for turn in history for p in turn_images(turn)]
    return (found, images[-1]) if found and images else ([], None)


def found_summary(found: list[grounding.Found]) -> str:
    """The line under the drawn image, in the visitor's language: how many boxes or points, and their labels."""
    lang = request_language()
    if not found:
        return message("nothing_found", lang)
    labels = [f.label or say("find.no_label", lang) for f in found]
    return say("find.found", lang, n=len(found), labels=", ".join(labels))

"""What Qwen3-VL sees (issue 14), on the real engines (tiny checkpoint, the app's own launcher).

- The time under each sampled frame is the "<t seconds>" text the engine's own prompt carries for it: read back
  from the prompt's token ids (the worker's vLLM, and the server's ``return_token_ids``), decoded.
- A follow-up about a video reuses the kept frames: the file is gone by then.
- Answers held to a JSON schema (vLLM's structured outputs) always parse, with random weights too.
- Boxes and points are drawn where the numbers say, on the image at its own size.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import openai
import pytest
from PIL import Image

from demo.engines.params import GenerationParams, VideoSampling
from demo.engines.video_events import Done, Frames
from demo.engines.video_via_server import video_messages
from demo.inputs import grounding
from demo.inputs.images import load_image
from demo.inputs.video_times import moments_schema, parse_moments, prompt_label
from demo.outputs import boxes
from demo.ui.image_find import find_objects
from tests.drive import collect

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CLIP = ASSETS / "example.mp4"  # 24 fps, 5.2 s
LABEL = re.compile(r"<\d+(?:\.\d+)? seconds>")


def labels_of(plan) -> list[str]:
    """The captions' times as the prompt writes them: one per pair of frames."""
    return [prompt_label(t) for t in plan.times[::2]]


def server_prompt_labels(engines, clip) -> list[str]:
    """The server's own prompt for the app's request about ``clip``, from its token ids, decoded."""
    from transformers import AutoTokenizer

    messages, media_io_kwargs = video_messages(clip, "Describe this video.")
    endpoint = engines.server.endpoint
    client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0)
    reply = client.chat.completions.create(model=endpoint.model, messages=messages, max_tokens=1,
                                           extra_body={"media_io_kwargs": media_io_kwargs, "return_token_ids": True})
    raw = reply.model_dump()
    ids = raw.get("prompt_token_ids") or raw["choices"][0].get("prompt_token_ids")
    assert ids, "the server sent no prompt token ids"
    return LABEL.findall(AutoTokenizer.from_pretrained(str(engines.model_path)).decode(ids))


@pytest.mark.parametrize("start", [0.0, 2.0], ids=["from-0s", "from-2s"])
@pytest.mark.parametrize("fps", [1.0, 4.0], ids=["1fps", "4fps"])
def test_the_times_under_the_frames_are_those_in_the_engines_prompt(engines, start, fps):
    events = collect(engines.answer_video(str(CLIP), "Describe this video.",
                                          VideoSampling(fps=fps, max_frames=16, start=start),
                                          GenerationParams(max_tokens=1)))
    (shown,) = [e for e in events if isinstance(e, Frames)]
    plan, answer = shown.plan, events[-1].answer
    assert plan.nframes >= 2 and min(plan.times) >= start  # the video's own time: the offset is in it
    assert list(answer.prompt_times) == labels_of(plan)  # the worker's prompt
    assert server_prompt_labels(engines, shown.clip) == labels_of(plan)  # the server's, for the same frames


@pytest.mark.parametrize("path", ["worker", "server"])
def test_a_follow_up_reuses_the_frames_and_does_not_read_the_file_again(engines, tmp_path, path):
    copy = tmp_path / "clip.mp4"
    shutil.copy(CLIP, copy)
    sampling = VideoSampling(fps=2, max_frames=8, start=1.0)

    def ask(source, question, history=()):
        return collect(engines.answer_video(source, question, sampling, GenerationParams(max_tokens=8), history=history,
                                            via_server=path == "server"))

    question = "Describe this video."
    first = ask(str(copy), question)
    clip = next(e for e in first if isinstance(e, Frames)).clip
    copy.unlink()  # nothing left to read
    second = ask(clip, question, [(question, first[-1].answer.text)])  # the same question: only the turn differs
    assert not any(isinstance(e, Frames) for e in second)  # not sampled again
    assert isinstance(second[-1], Done)
    # the first turn is in its prompt: the answer, the question again and the template's turn markers
    assert second[-1].answer.prompt_tokens - first[-1].answer.prompt_tokens >= 8
    if path == "worker":
        assert second[-1].answer.prompt_times == first[-1].answer.prompt_times == tuple(labels_of(clip.plan))


@pytest.mark.parametrize("path", ["worker", "server"])
def test_a_conversation_that_outgrows_the_context_is_the_too_long_sentence_and_the_next_question_works(
        engines, path):
    from demo.errors import EngineError

    _, clip = collect_clip(engines)
    history = [("Describe this video.", "word " * 9000)]  # about 9000 tokens: more than the whole context
    with pytest.raises(EngineError) as info:
        collect(engines.answer_video(clip, "And then?", params=GenerationParams(max_tokens=8), history=history,
                                     via_server=path == "server"))
    assert info.value.code == "too_long"
    events = collect(engines.answer_video(clip, "And then?", params=GenerationParams(max_tokens=8),
                                          via_server=path == "server"))
    assert isinstance(events[-1], Done)


@pytest.mark.parametrize("path", ["worker", "server"])
def test_moments_held_to_the_schema_always_parse(engines, path):
    _, clip = collect_clip(engines)
    duration = clip.plan.source_frames / clip.plan.source_fps
    schema = moments_schema(duration)
    question = 'Find the moments in the video where "the man moves". Answer in JSON.'
    # the settings least likely to end the answer
    params = GenerationParams(temperature=1.0, top_p=1.0, top_k=-1, max_tokens=1024, presence_penalty=0.0)
    events = collect(engines.answer_video(clip, question, None, params, json_schema=schema,
                                          via_server=path == "server"))
    answer = events[-1].answer
    assert answer.finish_reason == "stop", answer  # closed by the grammar, not cut by max_tokens
    decoded = json.loads(answer.text, strict=False)  # compact JSON of the schema's shape
    assert isinstance(decoded, list) and 1 <= len(decoded) <= 12
    moments = parse_moments(answer.text, duration)
    assert len(moments) == len(decoded) and all(0 <= m.seconds <= duration + 0.05 for m in moments)


def collect_clip(engines):
    import asyncio

    return asyncio.run(engines.sample_video(str(CLIP), VideoSampling(fps=2, max_frames=8)))


def pixel(v: int, size: int) -> int:
    """Where Qwen3-VL's 0-1000 coordinate lands on a side of ``size`` pixels (half up), inside the image."""
    return min(size - 1, max(0, int(v / 1000 * size + 0.5)))


def corner_colour_check(picture: Image.Image, original: Image.Image, found: list[grounding.Found]) -> None:
    assert picture.size == original.size
    w, h = picture.size
    last = len(found) - 1  # drawn last: nothing covers its outline
    colour = boxes.PALETTE[last % len(boxes.PALETTE)]
    if found[last].box is not None:
        x1, y1, x2, y2 = found[last].box
        for x, y in ((x1, y1), (x2, y1), (x1, y2), (x2, y2)):
            assert picture.getpixel((pixel(x, w), pixel(y, h))) == colour, (x, y)
    else:
        x, y = found[last].point
        assert picture.getpixel((pixel(x, w), pixel(y, h))) == colour
    palette = set(boxes.PALETTE)
    for item in found:  # every entry left a mark of some box's colour where its numbers put it
        x, y = (item.box or item.point)[:2]
        assert picture.getpixel((pixel(x, w), pixel(y, h))) in palette


@pytest.mark.parametrize("kind", ["boxes", "points"])
@pytest.mark.parametrize("name", ["coffee.jpg", "chelsea.jpg"])
def test_found_boxes_and_points_are_drawn_where_the_numbers_say(engines, kind, name):
    import asyncio

    path = str(ASSETS / name)
    found, picture, stats = asyncio.run(find_objects(engines, path, "the cup", kind))
    assert stats.finish_reason == "stop"  # the schema closed the answer
    assert 1 <= len(found) <= grounding.MAX_OBJECTS
    assert all((f.box is not None) == (kind == "boxes") for f in found)
    with Image.open(picture) as drawn:  # a PNG file, at the image's own size
        corner_colour_check(drawn.convert("RGB"), load_image(path), found)

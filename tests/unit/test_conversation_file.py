"""demo/inputs/conversation_file.py: a conversation exported as one JSON document and opened again.

The round trips must give back what the model saw (the images' JPEG as image_part made it, the video's frames
and plan); every way a document from outside can be wrong must end in its sentence (the code is asserted, not
the wording), with nothing written outside the folder given, and nothing left there after a refusal.
"""

from __future__ import annotations

import base64
import copy
import io
import json
from dataclasses import MISSING
from dataclasses import fields as dataclass_fields
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from demo.errors import ImageError, UserFacingError
from demo.inputs.conversation import ImagePart, TextPart, Turn, VideoTurn, to_openai, turn_images, turn_text
from demo.inputs.conversation_file import (
    FORMAT,
    VERSION,
    ConversationFileError,
    DocPlan,
    Document,
    Loaded,
    api_history,
    dumps,
    export,
    filename,
    load,
    safe_name,
    video_history,
)
from demo.inputs.images import IMAGE_MAX_PIXELS, MAX_IMAGES, grid_size, image_part
from demo.inputs.video_clip import VideoClip
from demo.inputs.video_frames import FramePlan

PREFIX = "data:image/jpeg;base64,"


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """Gradients, with detail in every channel (a solid colour would make every JPEG alike)."""
    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    down = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (across, down, Image.eval(across, lambda v: (v * 3 + seed) % 256)))


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def url_of(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def decoded(url: str) -> bytes:
    assert url.startswith(PREFIX)
    return base64.b64decode(url[len(PREFIX):])


@pytest.fixture
def uploads(tmp_path) -> dict[str, str]:
    """A large PNG (image_part downscales it) and a small JPEG, as Gradio keeps uploads: a folder per file."""
    big = tmp_path / "uploads" / "a1" / "big photo.png"
    big.parent.mkdir(parents=True)
    picture(1600, 1200).save(big)
    small = tmp_path / "uploads" / "b2" / "cat.jpg"
    small.parent.mkdir(parents=True)
    picture(40, 30, seed=9).save(small, quality=95)
    return {"big": str(big), "small": str(small)}


@pytest.fixture
def history(uploads) -> list[dict]:
    sent = {"params": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 512, "presence_penalty": 1.5},
            "system": "Be brief."}
    return [
        {"role": "user", "content": [{"type": "image", "path": uploads["big"]},
                                     {"type": "image", "path": uploads["small"]},
                                     {"type": "text", "text": "What's \"this\"?\n'''\nJSON\n日本語 ✓"}]},
        {"role": "assistant", "content": "A gradient and a cat.", "reasoning": "Two images...", "thinking_s": 1.2,
         "sent": sent},
        {"role": "user", "content": "And the colours?"},
        {"role": "assistant", "content": "Red, green, blue."},
    ]


@pytest.fixture
def clip() -> VideoClip:
    plan = FramePlan((0, 15, 30, 45, 60, 75), 64, 32, sample_fps=2.0, visual_tokens=42, source_fps=30.0,
                     source_frames=90)
    return VideoClip.from_frames([picture(64, 32, seed=i * 40) for i in range(6)], plan)


def doc_with(**changes) -> dict:
    """A minimal valid chat document, changed."""
    doc = {"format": FORMAT, "version": VERSION, "tab": "chat", "model": "m", "system_prompt": "",
           "turns": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    doc.update(changes)
    return doc


def image_doc(*urls: str, names=None) -> dict:
    parts = [{"type": "image", "name": (names or ["x.jpg"] * len(urls))[i], "url": url} for i, url in enumerate(urls)]
    return doc_with(tab="image", turns=[{"role": "user", "content": parts + [{"type": "text", "text": "What?"}]}])


def refused(raw, folder: Path, code: str, kind=ConversationFileError, **options) -> UserFacingError:
    with pytest.raises(kind) as caught:
        load(raw, folder=folder, **options)
    assert caught.value.code == code, str(caught.value)
    assert str(caught.value) and "Traceback" not in str(caught.value)
    assert not folder.exists() or not any(folder.rglob("*.*")), "a refused document left files behind"
    return caught.value


# ---- round trips -------------------------------------------------------------------------------------------


def test_an_image_conversation_round_trips(history, uploads, tmp_path):
    doc = export("image", history, model="Qwen/Qwen3-VL-4B-Instruct", system_prompt="Be brief.")
    json.dumps(doc, allow_nan=False)  # JSON-able as it is
    loaded = load(dumps(doc), folder=tmp_path / "in")
    assert (loaded.tab, loaded.model, loaded.system_prompt) == ("image", "Qwen/Qwen3-VL-4B-Instruct", "Be brief.")
    assert [t["role"] for t in loaded.history] == [t["role"] for t in history]
    assert [turn_text(t) for t in loaded.history] == [turn_text(t) for t in history]
    for before, after in zip(history, loaded.history):  # the answers' extras, as they were
        assert {k: v for k, v in after.items() if k not in ("role", "content")} == \
               {k: v for k, v in before.items() if k not in ("role", "content")}
    assert loaded.clip is None
    paths = turn_images(loaded.history[0])
    assert [Path(p).name for p in paths] == ["big photo.jpg", "cat.jpg"]
    for original, path in zip((uploads["big"], uploads["small"]), paths):
        assert Path(path).resolve().is_relative_to((tmp_path / "in").resolve())
        sent = decoded(image_part(original)["image_url"]["url"])
        assert Path(path).read_bytes() == sent  # the very JPEG the model got
        assert Image.open(path).tobytes() == Image.open(io.BytesIO(sent)).tobytes()
    assert Image.open(paths[0]).size == grid_size(1600, 1200, IMAGE_MAX_PIXELS)  # downscaled, as the model got it
    messages = to_openai(loaded.history, loaded.system_prompt)  # the app can send it as it is
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]


def test_a_video_conversation_round_trips(clip, tmp_path):
    turns = (("What is it?", "Stripes."), ("And then?", "More stripes."))
    doc = export("video", video_history(turns), model="m", clip=clip)
    loaded = load(dumps(doc), folder=tmp_path / "in")
    assert loaded.clip == clip  # the same JPEG bytes and the same plan
    assert loaded.clip.plan.timing == clip.plan.timing and loaded.clip.plan.times == clip.plan.times
    fields = json.loads(dumps(doc))["video"]["plan"]
    assert VideoClip(loaded.clip.jpegs, FramePlan(**fields | {"indices": tuple(fields["indices"])})) == clip
    assert loaded.video_turns == turns
    assert not (tmp_path / "in").exists()  # no image: nothing written


def test_load_takes_bytes_text_and_a_parsed_object(history, tmp_path):
    doc = export("chat", history[2:], model="m")
    results = [load(raw, folder=tmp_path / str(i)) for i, raw in enumerate((dumps(doc), dumps(doc).decode(), doc))]
    assert results[0] == results[1] == results[2]
    assert load("\ufeff" + dumps(doc).decode(), folder=tmp_path / "bom").history == results[0].history


def test_dumps_is_stable_compact_utf8(history):
    doc = export("chat", history[2:], model="Qwen ✓")
    raw = dumps(doc)
    assert raw == dumps(json.loads(raw)) and b"\n" not in raw and "Qwen ✓".encode() in raw
    assert dumps({"b": 1, "a": "\ud800"}) == b'{"a":"\\ud800","b":1}'  # a lone surrogate as JSON's escape


def test_filename():
    assert filename("chat", datetime(2026, 12, 3, 17, 12)) == "qwen3-vl-chat-2026-12-03-1712.json"
    assert filename("video", datetime(2026, 1, 2, 3, 4)) == "qwen3-vl-video-2026-01-02-0304.json"
    with pytest.raises(ValueError):
        filename("../x", datetime(2026, 1, 1))


def test_export_of_an_image_gone_says_so(tmp_path):
    gone = [{"role": "user", "content": [{"type": "image", "path": str(tmp_path / "gone.png")},
                                         {"type": "text", "text": "?"}]}]
    with pytest.raises(ImageError) as caught:
        export("image", gone, model="m")
    assert caught.value.code == "image_gone" and str(tmp_path) not in str(caught.value)


# ---- what comes in from outside ----------------------------------------------------------------------------


def test_text_is_cleaned_and_unknown_keys_dropped(tmp_path):
    doc = doc_with(extra={"x": 1}, system_prompt="sys\x1b[31m!\x00", turns=[
        {"role": "user", "content": [{"type": "text", "text": "\x1b[31mred\x1b[0m\r\n", "style": "x"}], "id": 7},
        {"role": "assistant", "content": "ok\x07", "reasoning": "r\x1b]0;title\x07", "thinking_s": 2,
         "sent": {"params": {"temperature": 0.1, "evil": "x"}, "system": "s", "url": "http://x"}, "html": "<b>"},
    ])
    loaded = load(doc, folder=tmp_path)
    assert loaded.system_prompt == "sys!"
    assert loaded.history == [
        {"role": "user", "content": [{"type": "text", "text": "red\n"}]},
        {"role": "assistant", "content": "ok", "reasoning": "r", "thinking_s": 2.0,
         "sent": {"params": {"temperature": 0.1}, "system": "s"}},
    ]


def test_the_thinking_choice_of_an_answer_is_kept(tmp_path):
    """Qwen3.5's switch, as the answer's request had it (request_view.sent_of), survives a download and a load."""
    sent = {"params": {"temperature": 1.0, "thinking": False}, "system": ""}
    doc = doc_with(turns=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "sent": sent}])
    assert load(doc, folder=tmp_path).history[1]["sent"] == sent


def test_an_answer_given_as_text_parts_is_text(tmp_path):
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    doc = doc_with(turns=[{"role": "user", "content": "q"}, {"role": "assistant", "content": parts}])
    assert load(doc, folder=tmp_path).history[1] == {"role": "assistant", "content": "ab"}


@pytest.mark.parametrize("raw, code", [
    (b"{not json", "import_unreadable"),
    (b"\xff\xfe\x00garbage", "import_unreadable"),
    (b"[" * 100_000 + b"]" * 100_000, "import_unreadable"),
    ("", "import_unreadable"),
    (42, "import_unreadable"),
    (b"[1, 2]", "import_not_ours"),
    (b'"text"', "import_not_ours"),
    (b"{}", "import_not_ours"),
    (json.dumps(doc_with(format="someone-else/chat")).encode(), "import_not_ours"),
    (json.dumps(doc_with(version=VERSION + 1)), "import_newer"),
    (doc_with(version="1"), "import_bad"),
    (doc_with(version=True), "import_bad"),
    (doc_with(version=0), "import_bad"),
    (doc_with(tab="admin"), "import_bad"),
    (doc_with(model=5), "import_bad"),
    (doc_with(system_prompt=["x"]), "import_bad"),
    (doc_with(turns={"role": "user"}), "import_bad"),
    (doc_with(turns=None), "import_bad"),
    (doc_with(turns=["hi"]), "import_bad"),
    (doc_with(turns=[{"role": "system", "content": "x"}]), "import_bad"),
    (doc_with(turns=[{"role": "user"}]), "import_bad"),
    (doc_with(turns=[{"role": "user", "content": 5}]), "import_bad"),
    (doc_with(turns=[{"role": "user", "content": [{"type": "text", "text": 5}]}]), "import_bad"),
    (doc_with(turns=[{"role": "user", "content": [{"type": "text"}]}]), "import_bad"),
    (doc_with(turns=[{"role": "user", "content": [{"type": "audio", "url": "x"}]}]), "import_bad"),
    (doc_with(turns=[{"role": "user", "content": ["text"]}]), "import_bad"),
    (doc_with(turns=[{"role": "user", "content": [{"type": "image", "path": "/etc/passwd"}]}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "thinking_s": "slow"}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "thinking_s": -1}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "reasoning": None}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "sent": "x"}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "sent": {"params": {"top_k": "20"}}}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "sent": {"params": {"top_p": True}}}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "sent": {"params": {"thinking": "off"}}}]), "import_bad"),
    (doc_with(turns=[{"role": "assistant", "content": "a", "sent": {"params": {"thinking": 0}}}]), "import_bad"),
    ('{"format": "qwen3-vl-demo/conversation", "version": 1, "tab": "chat", "turns": [{"role": "assistant", '
     '"content": "a", "thinking_s": NaN}]}', "import_bad"),
    (doc_with(video={"frames": [], "plan": {}}), "import_bad"),  # a video outside the Video tab
])
def test_each_bad_document_gets_its_sentence(raw, code, tmp_path):
    refused(raw, tmp_path / "in", code)


def test_max_bytes_is_honoured_for_every_kind_of_input(tmp_path):
    doc = doc_with(turns=[{"role": "user", "content": "x" * 5000}])
    for raw in (dumps(doc), dumps(doc).decode(), doc):
        refused(raw, tmp_path / "in", "import_too_large", max_bytes=4000)
        assert load(raw, folder=tmp_path / "in", max_bytes=6000).history[0]["content"] == "x" * 5000


def test_too_many_images_are_refused_before_any_is_written(tmp_path):
    url = url_of(jpeg_bytes(picture(8, 8)))
    refused(image_doc(*[url] * 20), tmp_path / "in", "too_many_images", kind=ImageError)
    assert len(load(image_doc(*[url] * MAX_IMAGES), folder=tmp_path / "ok").history[0]["content"]) == MAX_IMAGES + 1


@pytest.mark.parametrize("url", [
    "data:image/jpeg;base64,!!!not base64!!!",
    "data:image/jpeg;base64,",
    url_of(b"hello, not an image"),
    url_of(jpeg_bytes(picture(8, 8)), "text/html"),
    "data:image/jpeg," + "%FF%D8",  # not base64 at all
    "http://127.0.0.1:8085/secret.jpg",
    "file:///etc/passwd",
    "/etc/passwd",
])
def test_an_image_that_is_not_base64_image_data_is_refused(url, tmp_path):
    refused(image_doc(url), tmp_path / "in", "import_bad")


def test_an_image_that_does_not_decode_is_refused_and_nothing_is_left(tmp_path):
    good = url_of(jpeg_bytes(picture(8, 8)))
    whole = jpeg_bytes(picture(300, 200))
    truncated = url_of(whole[:whole.index(b"\xff\xda") + 40])  # the whole header, then the scan cut short
    error = refused(image_doc(good, truncated), tmp_path / "in", "image_unreadable", kind=ImageError)
    assert str(tmp_path) not in str(error)
    assert list((tmp_path / "in").iterdir()) == []  # the good image written first is gone too


@pytest.mark.parametrize("name, expected", [
    ("../../etc/x", "x.jpg"),
    ("..\\..\\windows\\system32\\evil.exe", "evil.jpg"),
    ("/etc/passwd", "passwd.jpg"),
    ("..", "image.jpg"),
    ("", "image.jpg"),
    (".bashrc", "bashrc.jpg"),
    ("a\x00b\nc.png", "a_b_c.jpg"),
    ("猫.jpg", "猫.jpg"),
    ("x" * 300 + ".jpg", "x" * 80 + ".jpg"),
])
def test_names_are_our_own_and_files_stay_inside_the_folder(name, expected, tmp_path):
    folder = tmp_path / "in"
    loaded = load(image_doc(url_of(jpeg_bytes(picture(8, 8))), names=[name]), folder=folder)
    (path,) = turn_images(loaded.history[0])
    assert Path(path).name == expected
    assert Path(path).resolve().is_relative_to(folder.resolve())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [Path(path)]


def test_a_png_image_keeps_its_format_whatever_its_name_says(tmp_path):
    buf = io.BytesIO()
    picture(8, 8).save(buf, format="PNG")
    loaded = load(image_doc(url_of(buf.getvalue(), "image/png"), names=["page.html"]), folder=tmp_path)
    assert Path(turn_images(loaded.history[0])[0]).name == "page.png"


def test_safe_name():
    assert safe_name("../../etc/x") == "x" and safe_name("...") == "image" and "/" not in safe_name("a/b\\c")


# ---- videos ------------------------------------------------------------------------------------------------


def video_doc(clip: VideoClip, **plan_changes) -> dict:
    doc = export("video", video_history((("q", "a"),)), model="m", clip=clip)
    doc["video"]["plan"].update(plan_changes)
    return doc


@pytest.mark.parametrize("changes", [
    {"width": 65},  # the frames are not of the plan's size
    {"width": "64"},
    {"height": True},
    {"width": 4000, "height": 4000},
    {"indices": [0, 15, 30]},  # fewer than the frames
    {"indices": [0, 15, 30, 45, 60, -1]},
    {"indices": [75, 60, 45, 30, 15, 0]},
    {"indices": "0,15"},
    {"sample_fps": 0},
    {"sample_fps": float("inf")},
    {"source_fps": -30.0},
    {"visual_tokens": 1.5},
    {"source_frames": None},
])
def test_a_wrong_frame_plan_is_refused(changes, clip, tmp_path):
    refused(video_doc(clip, **changes), tmp_path / "in", "import_bad")


def test_a_plan_without_a_field_is_refused_and_optional_fields_take_their_defaults(clip, tmp_path):
    doc = video_doc(clip)
    del doc["video"]["plan"]["width"]
    refused(doc, tmp_path / "in", "import_bad")
    doc = video_doc(clip)
    del doc["video"]["plan"]["source_fps"], doc["video"]["plan"]["source_frames"]
    doc["video"]["plan"]["extra"] = 1
    assert load(doc, folder=tmp_path).clip.plan.source_fps == 0.0


def test_video_frames_must_be_jpeg(clip, tmp_path):
    png = io.BytesIO()
    picture(64, 32).save(png, format="PNG")
    cut = url_of(jpeg_bytes(picture(64, 32))[:300])
    bad_frames = (url_of(png.getvalue(), "image/png"), url_of(png.getvalue()), cut, "data:image/jpeg;base64,@@", 5,
                  None)
    for frame in bad_frames:
        doc = video_doc(clip)
        doc["video"]["frames"][2] = frame
        refused(doc, tmp_path / "in", "import_bad")


@pytest.mark.parametrize("video", [None, "x", {"frames": "x"}, {"frames": []}, {"frames": ["x"] * 257},
                                   {"frames": [url_of(b"x")]}])
def test_a_wrong_video_is_refused(video, tmp_path):
    refused(doc_with(tab="video", video=video), tmp_path / "in", "import_bad")


def test_a_video_conversation_is_question_answer_pairs(clip, tmp_path):
    question, answer = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}
    for turns in ([question], [answer, question]):
        doc = video_doc(clip)
        doc["turns"] = turns
        refused(doc, tmp_path / "in", "import_bad")
    assert load(doc_with(tab="video", turns=[]), folder=tmp_path).clip is None  # a Video tab with no video yet


def test_odd_documents_never_raise_anything_but_a_sentence(clip, tmp_path):
    """Every field of a valid document replaced by values of other types: a sentence each time, no traceback."""
    base = json.loads(dumps(video_doc(clip)))
    odd_values = [None, True, 0, -1, 1e308, "", "x", [], {}, [None], {"": None}]

    def paths(node, prefix=()):
        yield prefix
        children = list(node.items()) if isinstance(node, dict) \
            else list(enumerate(node))[:2] if isinstance(node, list) else []
        for key, child in children:
            yield from paths(child, prefix + (key,))

    checked = 0
    for path in list(paths(base))[1:]:
        for value in odd_values:
            doc = copy.deepcopy(base)
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            try:
                load(doc, folder=tmp_path / "odd")
            except UserFacingError:
                pass
            checked += 1
    assert checked > 100


# ---- the API's history -------------------------------------------------------------------------------------


def test_api_history_is_what_the_chat_api_accepts(history, tmp_path):
    from demo.ui.api import history_from_api

    doc = export("image", history, model="m")
    loaded = load(doc, folder=tmp_path)
    turns = api_history(loaded)
    assert turns == api_history(doc) == api_history(dumps(doc))
    assert all(set(t) == {"role", "content"} and isinstance(t["content"], str) for t in turns)
    accepted = history_from_api(turns)
    assert [turn_text(t) for t in accepted] == [turn_text(t) for t in history]
    assert [t["role"] for t in accepted] == [t["role"] for t in history]
    assert all(not turn_images(t) for t in accepted)  # the images are dropped
    with pytest.raises(ConversationFileError):
        api_history(b"not json")


def test_loaded_is_the_app_s_shape(history, tmp_path):
    loaded = load(export("chat", history[2:], model="m"), folder=tmp_path)
    assert isinstance(loaded, Loaded)
    assert loaded.history == [{"role": "user", "content": "And the colours?"},
                              {"role": "assistant", "content": "Red, green, blue."}]


# ---- the declared shape ------------------------------------------------------------------------------------


def bad(detail: str) -> str:
    return str(ConversationFileError("import_bad", detail=detail))


@pytest.mark.parametrize("doc, detail", [
    (doc_with(model=5, turns=[{"role": "system"}]), "the model's name is not text"),
    (doc_with(turns=[{"role": "user", "content": 5}, {"role": "system"}]), "turn 1 has no content"),
    (doc_with(turns=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                     {"role": "user", "content": [{"type": "text", "text": "t"}, {"type": "audio"}]}]),
     "turn 3 has a part that is neither text nor an image"),
    (doc_with(turns=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning": 1,
                                                        "thinking_s": -1}]),
     "the reasoning of turn 2 is not text"),
    (doc_with(turns=[{"role": "user", "content": "q"}] * 3 + [{"role": "assistant", "content": "a",
                                                                "sent": {"params": {"top_k": "20"}}}]),
     "the top_k of turn 4 is not a number in range"),
    (doc_with(tab="image", video={"frames": []}, turns=[{"role": "user", "content": [
        {"type": "image", "url": "data:image/jpeg;base64,AAAA"}]}]), "an image of turn 1 is not image data"),
])
def test_a_document_is_refused_for_its_first_fault_with_the_turn_named(doc, detail, tmp_path):
    assert str(refused(doc, tmp_path / "in", "import_bad")) == bad(detail)


def test_a_plan_missing_a_key_is_refused_for_that_key_first(clip, tmp_path):
    doc = video_doc(clip, indices="x", width=None)
    del doc["video"]["plan"]["sample_fps"]
    assert str(refused(doc, tmp_path / "in", "import_bad")) == bad("the video's frame plan has no sample_fps")


def test_the_plan_declares_a_frame_plan_s_fields():
    declared = {name: (info.is_required(), None if info.is_required() else info.default)
                for name, info in DocPlan.model_fields.items()}
    assert declared == {f.name: (f.default is MISSING, None if f.default is MISSING else f.default)
                        for f in dataclass_fields(FramePlan)}


def test_a_long_run_of_bad_items_stops_at_the_first():
    """A 64 MB document can hold millions of bad parts: the first is the one said, and no more are looked at."""
    many = doc_with(turns=[{"role": "user", "content": [5] * 100_000}])
    with pytest.raises(ValidationError) as caught:
        Document.model_validate(many)
    assert len(caught.value.errors()) == 1


def test_loaded_turns_have_the_declared_shape(history, clip, tmp_path):
    loaded = load(export("image", history, model="m"), folder=tmp_path / "in")
    parts = {"text": TextPart, "image": ImagePart}
    for turn in loaded.history:
        assert Turn.__required_keys__ <= set(turn) <= Turn.__required_keys__ | Turn.__optional_keys__
        for part in [] if isinstance(turn["content"], str) else turn["content"]:
            assert set(part) == parts[part["type"]].__required_keys__
    turns = load(export("video", video_history([("q", "a")]), model="m", clip=clip), folder=tmp_path).video_turns
    assert turns == (("q", "a"),) and turns[0] == VideoTurn(question="q", answer="a")

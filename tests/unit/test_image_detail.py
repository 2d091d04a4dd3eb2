"""Per-image detail (issue 29): the levels' budgets, the size and tokens the model gets, the turn that carries a
level into the request, conversation files that keep it (and older ones read as "standard"), and the page's line."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

from demo.errors import MESSAGES, ImageError
from demo.inputs import conversation_file
from demo.inputs.conversation import assistant_turn, to_openai, turn_image_parts, user_turn
from demo.inputs.images import (
    DETAIL_LEVELS,
    IMAGE_MAX_PIXELS,
    IMAGE_MAX_TOKENS,
    PROCESSOR_MAX_PIXELS,
    PROCESSOR_MIN_PIXELS,
    detail_pixels,
    detail_tokens,
    image_part,
    processor_size,
    seen_size,
    upright_size,
)
from demo.outputs.request_snippet import python_snippet
from demo.ui.image_detail import detail_line

ORIENTATION = 0x0112


def write_jpeg(path, size, orientation=None):
    img = Image.new("RGB", size, (200, 120, 40))
    img.paste((20, 40, 200), (0, 0, size[0] // 2, size[1] // 3))
    if orientation is None:
        img.save(path, "JPEG", quality=90)
    else:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        img.save(path, "JPEG", quality=90, exif=exif.tobytes())
    return str(path)


def sent_size(part: dict) -> tuple[int, int]:
    url = part["image_url"]["url"]
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as img:
        return img.size


# --- the levels -------------------------------------------------------------------------------------------------

def test_levels_are_ordered_and_standard_is_the_budget_of_before():
    tokens = [detail_tokens(level, 8192) for level in DETAIL_LEVELS]
    assert tokens == sorted(tokens) and len(set(tokens)) == 3, tokens
    assert detail_tokens("low") == 256
    assert detail_tokens("standard", 8192) == IMAGE_MAX_TOKENS and detail_pixels("standard") == IMAGE_MAX_PIXELS
    assert detail_tokens("high", 8192) == 4096  # half of the default context


def test_high_is_capped_by_the_context_and_the_processor():
    assert detail_tokens("high", 4096) == 2048
    assert detail_tokens("high", 2048) == IMAGE_MAX_TOKENS  # never below standard
    assert detail_pixels("high", 10**6) == PROCESSOR_MAX_PIXELS  # the processor's own maximum
    assert detail_pixels("high") == PROCESSOR_MAX_PIXELS  # no context given: only the processor's cap


@pytest.mark.parametrize("level", ["medium", "", "HIGH", None, 3])
def test_an_unknown_level_is_a_sentence(level):
    with pytest.raises(ImageError) as caught:
        detail_tokens(level)
    assert caught.value.code == "bad_detail"
    assert str(caught.value) == MESSAGES["bad_detail"].format(value=str(level), levels="low, standard, high")
    with pytest.raises(ImageError):
        user_turn("What is it?", ["x.jpg"], level)


# --- what the model sees ----------------------------------------------------------------------------------------

SIZES = [(1280, 960), (4000, 3000), (3000, 4000), (640, 480), (100, 100), (33, 1000), (12000, 300), (1920, 1080),
         (1000, 1000), (530, 494), (7, 7), (2480, 3508)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("level", DETAIL_LEVELS)
def test_seen_size_is_on_the_grid_within_the_budget(size, level):
    pixels = detail_pixels(level, 8192)
    seen = seen_size(*size, pixels)
    assert seen.width % 32 == 0 and seen.height % 32 == 0
    assert seen.tokens == seen.width * seen.height // 1024
    assert seen.width * seen.height >= PROCESSOR_MIN_PIXELS or seen.width * seen.height >= size[0] * size[1]
    if size[0] * size[1] > pixels:  # resized by the app: at most the budget
        assert seen.width * seen.height <= pixels


@pytest.mark.parametrize("size", SIZES)
def test_the_server_resize_is_transformers_smart_resize(size):
    """processor_size is the processor's own function with Qwen3-VL's limits; an image on the grid passes it as is."""
    width, height = size
    h, w = smart_resize(height, width, factor=32, min_pixels=PROCESSOR_MIN_PIXELS, max_pixels=PROCESSOR_MAX_PIXELS)
    assert processor_size(width, height) == (w, h)
    assert processor_size(w, h) == (w, h)


def test_the_tokens_grow_with_the_level():
    for size in SIZES:
        tokens = [seen_size(*size, detail_pixels(level, 8192)).tokens for level in DETAIL_LEVELS]
        assert tokens == sorted(tokens), (size, tokens)
    tokens = [seen_size(2480, 3508, detail_pixels(level, 8192)).tokens for level in DETAIL_LEVELS]
    assert tokens[0] < tokens[1] < tokens[2], tokens  # a scanned A4 page: three different costs


@pytest.mark.parametrize("size,orientation", [((4000, 3000), None), ((4000, 3000), 6), ((1300, 900), 8),
                                              ((2481, 3507), None), ((200, 150), None),
                                              # decoded at half size, this one rounds to another grid size
                                              ((1674, 941), None), ((941, 1674), 6)])
@pytest.mark.parametrize("level", DETAIL_LEVELS)
def test_the_image_sent_is_the_size_announced(tmp_path, size, orientation, level):
    """The data URL holds an image of the announced size (a JPEG decoded at a reduced scale included); the server
    then resizes it to the announced size the model sees."""
    path = write_jpeg(tmp_path / "photo.jpg", size, orientation)
    pixels = detail_pixels(level, 8192)
    width, height = upright_size(path)
    assert (width, height) == (size[::-1] if orientation in (6, 8) else size)
    sent = sent_size(image_part(path, pixels))
    seen = seen_size(width, height, pixels)
    assert processor_size(*sent) == (seen.width, seen.height)
    if width * height > pixels:
        assert sent == (seen.width, seen.height)


# --- the turn and the request -----------------------------------------------------------------------------------

def test_a_standard_turn_is_as_before(tmp_path):
    path = write_jpeg(tmp_path / "a.jpg", (1600, 1200))
    turn = user_turn("What is it?", [path])
    assert turn == {"role": "user", "content": [{"type": "image", "path": path},
                                                {"type": "text", "text": "What is it?"}]}
    assert user_turn("What is it?", [path], "standard", 8192) == turn
    assert to_openai([turn])[0]["content"][0] == image_part(path)


def test_each_image_is_sent_at_its_own_detail(tmp_path):
    path = write_jpeg(tmp_path / "page.jpg", (2480, 3508))
    other = write_jpeg(tmp_path / "photo.jpg", (4000, 3000))
    history = [user_turn("Read it.", [path], "high", 8192), assistant_turn("..."),
               user_turn("And this one?", [other], "low", 8192)]
    assert [p.get("detail") for t in history for p in turn_image_parts(t)] == ["high", "low"]
    messages = to_openai(history)
    high, low = messages[0]["content"][0], messages[2]["content"][0]
    assert sent_size(high) == seen_size(2480, 3508, detail_pixels("high", 8192))[:2]
    assert sent_size(low) == seen_size(4000, 3000, detail_pixels("low"))[:2]
    # the context caps "high" where the turn was made: a smaller context, a smaller image
    small = to_openai([user_turn("Read it.", [path], "high", 4096)])[0]["content"][0]
    assert sent_size(small) == seen_size(2480, 3508, detail_pixels("high", 4096))[:2]
    assert sent_size(small)[0] < sent_size(high)[0]


def test_show_request_says_the_size_and_tokens_the_model_sees(tmp_path):
    path = write_jpeg(tmp_path / "page.jpg", (2480, 3508))
    for level in ("low", "high"):
        messages = to_openai([user_turn("Read it.", [path], level, 8192)])
        seen = seen_size(2480, 3508, detail_pixels(level, 8192))
        source = python_snippet({"model": "m", "messages": messages})
        comment = next(line for line in source.splitlines() if line.startswith("# IMAGE_1"))
        assert f"{seen.width}×{seen.height} JPEG" in comment
        assert f"the model sees {seen.width}×{seen.height}, {seen.tokens:,} visual tokens" in comment


# --- conversation files -----------------------------------------------------------------------------------------

def test_a_conversation_file_keeps_each_images_detail(tmp_path):
    path = write_jpeg(tmp_path / "page.jpg", (2480, 3508))
    other = write_jpeg(tmp_path / "photo.jpg", (1600, 1200))
    history = [user_turn("Read it.", [path], "high", 8192), assistant_turn("..."),
               user_turn("And this?", [other]), assistant_turn("..."),
               user_turn("Gist?", [path], "low", 8192), assistant_turn("...")]
    doc = conversation_file.export("image", history, model="m")
    assert [p.get("detail") for t in doc["turns"] if isinstance(t["content"], list)
            for p in t["content"] if p["type"] == "image"] == ["high", None, "low"]  # standard: no key, as before
    loaded = conversation_file.load(conversation_file.dumps(doc), folder=tmp_path / "in")
    parts = [p for t in loaded.history for p in turn_image_parts(t)]
    assert [p.get("detail", "standard") for p in parts] == ["high", "standard", "low"]
    # what is sent again is what was sent: the same image sizes
    before = [sent_size(m["content"][0]) for m in to_openai(history) if isinstance(m["content"], list)]
    after = [sent_size(m["content"][0]) for m in to_openai(loaded.history) if isinstance(m["content"], list)]
    assert before == after


def test_an_older_file_without_detail_reads_as_standard(tmp_path):
    path = write_jpeg(tmp_path / "photo.jpg", (1600, 1200))
    doc = conversation_file.export("image", [user_turn("What?", [path]), assistant_turn("A cup.")], model="m")
    image = doc["turns"][0]["content"][0]
    assert "detail" not in image and doc["version"] == 1  # the format of before issue 29, unchanged
    loaded = conversation_file.load(doc, folder=tmp_path / "in")
    part = turn_image_parts(loaded.history[0])[0]
    assert set(part) == {"type", "path"}  # a standard image, as before
    assert sent_size(to_openai(loaded.history)[0]["content"][0]) == seen_size(1600, 1200)[:2] == (1312, 960)


@pytest.mark.parametrize("bad", ["ultra", 3, None, ["high"]])
def test_a_file_with_an_unknown_detail_is_refused_with_a_sentence(tmp_path, bad):
    path = write_jpeg(tmp_path / "photo.jpg", (640, 480))
    doc = conversation_file.export("image", [user_turn("What?", [path]), assistant_turn("A cup.")], model="m")
    doc["turns"][0]["content"][0]["detail"] = bad
    with pytest.raises(conversation_file.ConversationFileError) as caught:
        conversation_file.load(doc, folder=tmp_path / "in")
    assert str(caught.value) == MESSAGES["import_bad"].format(detail="an image of turn 1 has an unknown detail")
    assert not (tmp_path / "in").exists() or not any((tmp_path / "in").iterdir())


# --- the page's line --------------------------------------------------------------------------------------------

def test_the_line_says_size_seen_and_tokens(tmp_path):
    path = write_jpeg(tmp_path / "photo.jpg", (4000, 3000))
    low, high = (seen_size(4000, 3000, detail_pixels(level, 8192)) for level in ("low", "high"))
    line = detail_line([path], "low", [], 8192, "en")
    assert line == f"4000×3000 → model sees {low.width}×{low.height} · {low.tokens:,} visual tokens"
    assert f"{high.width}×{high.height} · {high.tokens:,} visual tokens" in detail_line([path], "high", [], 8192, "en")
    assert detail_line([], "high", [], 8192, "en") == ""


def test_the_line_says_an_image_already_sent_keeps_its_detail(tmp_path):
    sent = write_jpeg(tmp_path / "sent.jpg", (4000, 3000))
    new = write_jpeg(tmp_path / "new.jpg", (1000, 3000), orientation=6)  # upright: 3000x1000
    history = [user_turn("What?", [sent], "low", 8192), assistant_turn("A cup.")]
    lines = detail_line([sent, new], "high", history, 8192, "en").split("  \n")
    low = seen_size(4000, 3000, detail_pixels("low"))
    high = seen_size(3000, 1000, detail_pixels("high", 8192))
    assert lines[0].startswith(f"sent.jpg: 4000×3000 → model sees {low.width}×{low.height}")
    assert "sent earlier at “Low (~256)”" in lines[0]
    assert lines[1] == f"new.jpg: 3000×1000 → model sees {high.width}×{high.height} · {high.tokens:,} visual tokens"
    assert lines[2] == f"2 images · {low.tokens + high.tokens:,} visual tokens in all"
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    assert "junk.jpg: not readable as an image" in detail_line([str(tmp_path / "junk.jpg")], "low", [], 8192, "en")


# --- a region question (demo/inputs/region.py) ------------------------------------------------------------------

def test_a_region_question_sends_its_image_at_the_level_chosen_and_the_line_says_so(tmp_path):
    from demo.inputs import region

    path = write_jpeg(tmp_path / "page.jpg", (2480, 3508))
    pixels = detail_pixels("high", 8192)
    turn = region.region_turn(path, (100, 100, 300, 200), "What does it say?", "high", pixels)
    main, zoomed = turn_image_parts(turn)
    assert (main["path"], main.get("detail"), main.get("max_pixels")) == (path, "high", pixels)
    assert "detail" not in zoomed  # the crop goes at standard
    assert sent_size(to_openai([turn])[0]["content"][0]) == seen_size(2480, 3508, pixels)[:2]
    assert "sent earlier at “High" in detail_line([path], "standard", [turn], 8192, "en")
    # standard writes no level, as before; an unknown one is refused with its sentence
    assert "detail" not in turn_image_parts(region.region_turn(path, (0, 0, 900, 900), "Q"))[0]
    with pytest.raises(ImageError) as caught:
        region.region_turn(path, (0, 0, 900, 900), "Q", "ultra")
    assert caught.value.code == "bad_detail"

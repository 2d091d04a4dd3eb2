"""demo/inputs/region.py: a region of an image asked about (issue 29), and its turn through the conversation's views
(the request, the chat box, a conversation file, Show request).

The box must be the 0-1000 box of the corners clicked, whatever their order or place; the question must name it
as Qwen3-VL writes boxes; a small region must go zoomed in as a second image that shows that region; bad boxes
from an API caller must end in their sentence.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
from PIL import Image

from demo.errors import UserFacingError
from demo.inputs import region
from demo.inputs.conversation import (
    assistant_turn,
    draw_regions,
    to_chatbot,
    to_openai,
    turn_image_parts,
    turn_images,
    turn_text,
    user_turn,
)
from demo.inputs.conversation_file import ConversationFileError, export, load
from demo.inputs.images import IMAGE_MAX_PIXELS, detail_pixels, load_image
from demo.ui.request_view import request_of_turn

RED, BLUE = (230, 25, 75), (0, 0, 255)  # the box's colour (boxes.PALETTE[0]); the region's patch


@pytest.fixture()
def photo(tmp_path) -> str:
    """A 400x300 grey picture with a blue patch at x 100-140, y 60-90 (250-350, 200-300 on the 0-1000 scale)."""
    img = Image.new("RGB", (400, 300), (128, 128, 128))
    img.paste(BLUE, (100, 60, 140, 90))
    path = tmp_path / "photo.png"
    img.save(path)
    return str(path)


def near(colour, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected))


# ---- the box -------------------------------------------------------------------------------------------------


def test_two_corners_give_the_box_in_either_order():
    assert region.from_corners((100, 60), (140, 90), (400, 300)) == (250, 200, 350, 300)
    assert region.from_corners((140, 90), (100, 60), (400, 300)) == (250, 200, 350, 300)
    assert region.from_corners((140, 60), (100, 90), (400, 300)) == (250, 200, 350, 300)


def test_corners_outside_the_image_are_clamped():
    assert region.from_corners((-20, -5), (500, 400), (400, 300)) == (0, 0, 1000, 1000)


@pytest.mark.parametrize("a, b", [((200, 150), (200, 150)), ((399, 299), (399, 299)), ((0, 0), (1, 0))])
def test_a_region_is_never_smaller_than_its_minimum_and_stays_inside(a, b):
    x1, y1, x2, y2 = region.from_corners(a, b, (400, 300))
    assert x2 - x1 >= region.MIN_SIDE and y2 - y1 >= region.MIN_SIDE
    assert 0 <= x1 < x2 <= 1000 and 0 <= y1 < y2 <= 1000


@pytest.mark.parametrize("given, box", [
    ([250, 200, 350, 300], (250, 200, 350, 300)),
    ("250,200,350,300", (250, 200, 350, 300)),
    (" [250, 200, 350, 300] ", (250, 200, 350, 300)),
    ("(250.4, 200, 349.6, 300)", (250, 200, 350, 300)),
    ([350, 300, 250, 200], (250, 200, 350, 300)),  # the other two corners
    ([0, 0, 1000, 1000], (0, 0, 1000, 1000)),
    ([500, 500, 501, 501], (495, 495, 505, 505)),  # grown to the minimum about its middle
])
def test_an_api_box_is_read(given, box):
    assert region.parse_box(given) == box


@pytest.mark.parametrize("given, code", [
    ([1, 2, 3], "region_bad_box"), ([1, 2, 3, 4, 5], "region_bad_box"), ("1,2,3", "region_bad_box"),
    ([0, 0, 1001, 10], "region_bad_box"), ([-1, 0, 10, 10], "region_bad_box"), ("a,b,c,d", "region_bad_box"),
    ([0, 0, float("nan"), 10], "region_bad_box"), ([True, 0, 10, 10], "region_bad_box"), (None, "region_bad_box"),
    ({"bbox_2d": [1, 2, 3, 4]}, "region_bad_box"), ("", "region_bad_box"), ("1,2,3,4" * 50, "region_bad_box"),
    ([10, 10, 10, 500], "region_empty"), ("5, 300, 900, 300", "region_empty"),
])
def test_a_bad_box_gets_its_sentence(given, code):
    with pytest.raises(UserFacingError) as caught:
        region.parse_box(given)
    assert caught.value.code == code
    assert len(str(caught.value)) < 300  # a long value is quoted short


@pytest.mark.parametrize("hostile", [" " * 8000 + "x", "[" + " " * 8000 + "1,2,3,4]", "1" * 8000,
                                     "1, 2, 3, 4" + " " * 200 + "x"])
def test_a_long_box_text_is_refused_before_it_is_matched(hostile):
    # (a space run before and inside the pattern's first number backtracked quadratically: seconds on the loop)
    with pytest.raises(UserFacingError) as caught:
        region.parse_box(hostile)
    assert caught.value.code == "region_bad_box"


def test_small_means_under_a_quarter_of_the_image():
    assert region.is_small((0, 0, 499, 500))
    assert not region.is_small((0, 0, 500, 500))
    assert not region.is_small((0, 0, 1000, 1000))


def test_the_question_names_the_box_as_qwen3_vl_writes_boxes():
    text = region.prompt((250, 200, 350, 300), "What colour is it?", zoomed=True)
    assert '{"bbox_2d": [250, 200, 350, 300]}' in text
    assert text.endswith("What colour is it?")
    assert "second image" in text
    assert "second image" not in region.prompt((0, 0, 800, 900), "Q", zoomed=False)
    # the cookbook's JSON, readable as such
    assert json.loads(region.as_text((1, 2, 3, 4))) == {"bbox_2d": [1, 2, 3, 4]}


# ---- the crop ------------------------------------------------------------------------------------------------


def test_the_crop_shows_the_region_with_a_margin_and_is_enlarged(photo):
    img = load_image(photo)
    out = region.crop(img, (250, 200, 350, 300))
    # 40x30 pixels plus 10% on each side: 48x36, enlarged 4x at most
    assert out.size == (192, 144)
    assert near(out.getpixel((96, 72)), BLUE)  # the middle is the region
    assert near(out.getpixel((3, 3)), (128, 128, 128))  # the margin is what is around it
    assert near(out.getpixel((24, 20)), BLUE)


def test_a_crop_is_enlarged_to_the_zoom_tools_minimum_but_no_further():
    img = Image.new("RGB", (4000, 3000), (10, 20, 30))
    small = region.crop(img, (400, 400, 500, 500))  # 400x300 px and its margin: 480x360, under 256 tokens' pixels
    assert small.width * small.height >= region.CROP_MIN_PIXELS * 0.99
    assert small.width * small.height < region.CROP_MIN_PIXELS * 1.02
    assert abs(small.width / small.height - 480 / 360) < 0.01
    large = region.crop(img, (0, 0, 490, 490))  # far over the minimum: as cut (the request downscales it)
    assert large.size == (2156, 1617)
    assert region.CROP_MIN_PIXELS <= IMAGE_MAX_PIXELS


def test_the_crop_stays_inside_the_image_at_its_edge():
    img = Image.new("RGB", (100, 100), (0, 0, 0))
    out = region.crop(img, (990, 990, 1000, 1000))
    assert out.width >= 1 and out.height >= 1


# ---- the turn and its views ----------------------------------------------------------------------------------


def test_a_small_region_goes_with_its_crop_as_a_second_image(photo):
    turn = region.region_turn(photo, (250, 200, 350, 300), "What is this?")
    images = turn_images(turn)
    assert len(images) == 2 and images[0] == photo
    assert near(Image.open(images[1]).convert("RGB").getpixel((96, 72)), BLUE)
    assert turn["region"] == [250, 200, 350, 300]
    assert '{"bbox_2d": [250, 200, 350, 300]}' in turn_text(turn)

    messages = to_openai([turn])
    parts = messages[0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert '{"bbox_2d": [250, 200, 350, 300]}' in parts[2]["text"]


def test_a_large_region_goes_alone(photo):
    turn = region.region_turn(photo, (0, 0, 600, 900), "What is this?")
    assert turn_images(turn) == [photo]
    assert [p["type"] for p in to_openai([turn])[0]["content"]] == ["image_url", "text"]


def test_the_chat_box_shows_the_image_with_the_box_drawn(photo):
    turn = region.region_turn(photo, (250, 200, 350, 300), "What is this?")
    chat = to_chatbot([turn])
    shown = chat[0]["content"][0]["path"]
    assert shown != photo and len(chat[0]["content"]) == 2
    picture = Image.open(shown).convert("RGB")
    assert picture.size == (400, 300)
    assert near(picture.getpixel((100, 75)), RED, 10)  # the box's left edge, halfway down
    assert near(picture.getpixel((300, 200)), (128, 128, 128), 10)  # elsewhere the image as it was
    assert to_chatbot([turn])[0]["content"][0]["path"] == shown  # drawn once


def test_an_image_gone_is_shown_by_its_own_path(tmp_path, monkeypatch):
    gone = str(tmp_path / "gone.png")
    assert region.shown(gone, [0, 0, 10, 10]) == gone
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert region.shown(str(junk), [0, 0, 10, 10]) == str(junk)
    monkeypatch.setattr(region, "load_image", _no_decoding)  # remembered: not decoded again
    assert region.shown(str(junk), [0, 0, 10, 10]) == str(junk)


def _no_decoding(*args, **kwargs):
    raise AssertionError("an image decoded where it must already be drawn")


def test_a_loaded_conversation_has_its_boxes_drawn_before_the_chat_box_is_made(photo, tmp_path, monkeypatch):
    # (the chat box is made on the event loop: there it must only find the pictures, never decode an image)
    from demo.ui import kept
    from demo.ui.answering import with_regions_drawn

    history = [region.region_turn(photo, (250, 200, 350, 300), "What is this?"), assistant_turn("Blue.")]
    doc = export("image", history, model="m")
    file = tmp_path / "conversation.json"
    file.write_text(json.dumps(doc))
    loaded = with_regions_drawn(kept.import_file, str(file), "image")
    (from_browser, problem) = with_regions_drawn(kept.restore, doc, "image")
    assert problem is None
    monkeypatch.setattr(region, "load_image", _no_decoding)
    for conversation in (loaded, from_browser):
        shown = to_chatbot(conversation.history)[0]["content"][0]["path"]
        assert shown != turn_images(conversation.history[0])[0]
        assert near(Image.open(shown).convert("RGB").getpixel((100, 75)), RED, 10)
    assert with_regions_drawn(kept.import_file, None, "image") is None
    assert with_regions_drawn(kept.restore, None, "image") == (None, None)
    draw_regions([user_turn("no region", [photo])])  # nothing to draw: nothing decoded


def test_crops_and_pictures_go_to_a_private_folder_of_this_process(photo):
    crop = turn_images(region.region_turn(photo, (250, 200, 350, 300), "Q"))[1]
    folder = region.folder()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    # a random name: no other local user can make it first
    assert folder.name.startswith(region.FOLDER_PREFIX) and folder.name != region.FOLDER_PREFIX
    assert os.path.dirname(crop) == str(folder) and region.folder() == folder  # one per process
    assert os.path.dirname(region.shown(photo, [250, 200, 350, 300])) == str(folder)


def test_the_picker_picture_has_the_box_and_its_size(photo):
    path, size = region.picture(photo, (250, 200, 350, 300))
    assert size == (400, 300)
    assert near(Image.open(path).convert("RGB").getpixel((100, 75)), RED, 10)
    plain, _ = region.picture(photo)
    assert near(Image.open(plain).convert("RGB").getpixel((100, 75)), BLUE, 10)
    assert region.scaled_point((100, 60), size) == (250, 200)


def test_a_region_turn_survives_a_conversation_file(photo, tmp_path):
    history = [region.region_turn(photo, (250, 200, 350, 300), "What is this?"), assistant_turn("Blue.")]
    doc = json.loads(json.dumps(export("image", history, model="m")))
    assert doc["turns"][0]["region"] == [250, 200, 350, 300]
    loaded = load(doc, folder=tmp_path / "opened")
    turn = loaded.history[0]
    assert turn["region"] == [250, 200, 350, 300]
    assert len(turn_images(turn)) == 2 and turn_text(turn) == turn_text(history[0])
    assert to_chatbot(loaded.history)[0]["content"][0]["path"] != turn_images(turn)[0]  # drawn again


@pytest.mark.parametrize("bad", [[1, 2, 3], [0, 0, 1001, 5], ["1", 2, 3, 4], "1,2,3,4", None, [1.5, 2, 3, 4]])
def test_a_bad_region_in_a_file_is_refused(photo, tmp_path, bad):
    doc = json.loads(json.dumps(export("image", [region.region_turn(photo, (0, 0, 900, 900), "Q")], model="m")))
    doc["turns"][0]["region"] = bad
    with pytest.raises(ConversationFileError) as caught:
        load(doc, folder=tmp_path / "opened")
    assert caught.value.code == "import_bad" and "region" in str(caught.value)


def test_show_request_of_a_region_answer_has_the_box_and_both_images(photo):
    sent = {"params": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 64, "presence_penalty": 0.0},
            "system": ""}
    history = [region.region_turn(photo, (250, 200, 350, 300), "What is this?"), assistant_turn("Blue.", sent=sent)]
    request = request_of_turn("model", history, 1)
    parts = request["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "image_url", "text"]
    assert '{"bbox_2d": [250, 200, 350, 300]}' in parts[-1]["text"]


# ---- the picker's handlers (demo/ui/image_region.py), without a page ---------------------------------------------


def test_the_picker_takes_two_clicks_and_the_next_question_is_about_its_region(photo):
    import gradio as gr

    from demo.ui.answering import ConversationView
    from demo.ui.image_region import build_region

    with gr.Blocks() as blocks:
        gallery = gr.Gallery(type="filepath")
        picker = build_region(gallery, lambda value: list(value or []))
        view = ConversationView("image", gr.Chatbot(), gr.State([]), gr.Markdown(), gr.Textbox(), gr.Code(),
                                gr.Code(), gr.BrowserState(), gr.DownloadButton(), gr.Markdown())
        ask = gr.Button()
    handlers = {f.name: f.fn for f in blocks.fns.values()}

    class Click:
        def __init__(self, x, y):
            self.index = [x, y]

    held = handlers["last_image"]([photo])[picker.state]
    assert held["image"] == photo and held["size"] == [400, 300] and held["box"] is None
    held = handlers["click"](held, Click(140, 90))[picker.state]  # bottom-right first
    assert held["corner"] == [140, 90] and held["box"] is None
    out = handlers["click"](held, Click(100, 60))
    held = out[picker.state]
    assert held["box"] == [250, 200, 350, 300] and "[250, 200, 350, 300]" in out[picker.note]
    assert near(Image.open(out[picker.picture]).convert("RGB").getpixel((100, 75)), RED, 10)

    plain = []

    def add_question(images, text, history, level):  # the Image tab's, in short (its context: 8192)
        plain.append((images, text, history, level))
        return {view.state: history + [user_turn(text, list(images), level, 8192)]}

    ask_about = picker.asking(add_question, view, ask)
    out = ask_about([photo], "What is it?", [], "high", held)
    history = out[view.state]
    assert len(history) == 1 and history[0]["region"] == [250, 200, 350, 300] and len(turn_images(history[0])) == 2
    assert turn_text(history[0]).endswith("What is it?")
    main, zoomed = turn_image_parts(history[0])  # the image at the level chosen, capped by the context
    assert (main.get("detail"), main.get("max_pixels")) == ("high", detail_pixels("high", 8192))
    assert "detail" not in zoomed
    plain.clear()
    assert out[picker.state]["box"] is None and out[picker.note] == ""  # the region went with the question
    out = ask_about([photo], "And now?", history, "high", out[picker.state])
    assert plain and plain[0][1] == "And now?"  # no region: the tab's own question
    assert handlers["cleared"](held)[picker.state]["box"] is None

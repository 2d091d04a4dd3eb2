"""demo/inputs/grounding.py: the grounding prompt and schema, the lenient answer parser, pixels and drawing."""

from __future__ import annotations

import json
import random

import jsonschema
import pytest
from PIL import Image

from demo.inputs.grounding import (
    MAX_LABEL,
    MAX_OBJECTS,
    Found,
    as_json,
    parse,
    prompt,
    schema,
)
from demo.outputs.boxes import PALETTE, draw, to_pixels

# A real recorded answer of qwen3-vl-235b-a22b-instruct (27 objects, on a 640x479 photograph of a dinner table),
# copied from the output of the first example cell of QwenLM/Qwen3-VL's cookbooks/2d_grounding.ipynb, as stored in
# its mirror Firefly-llm/Qwen3-VL at commit d8cc2c173563f9fe5b35d29299e532b533fd2c7d.
REAL_BOXES = (
    "```json\n[\n"
    '\t{"bbox_2d": [74, 361, 324, 808], "label": "plate/dish"},\n'
    '\t{"bbox_2d": [320, 660, 564, 956], "label": "plate/dish"},\n'
    '\t{"bbox_2d": [555, 575, 807, 901], "label": "plate/dish"},\n'
    '\t{"bbox_2d": [484, 187, 743, 568], "label": "plate/dish"},\n'
    '\t{"bbox_2d": [739, 440, 999, 901], "label": "plate/dish"},\n'
    '\t{"bbox_2d": [300, 134, 481, 397], "label": "plate/dish"},\n'
    '\t{"bbox_2d": [691, 235, 775, 328], "label": "scallop"},\n'
    '\t{"bbox_2d": [752, 204, 856, 325], "label": "scallop"},\n'
    '\t{"bbox_2d": [835, 200, 919, 312], "label": "scallop"},\n'
    '\t{"bbox_2d": [735, 328, 834, 443], "label": "scallop"},\n'
    '\t{"bbox_2d": [812, 308, 918, 443], "label": "scallop"},\n'
    '\t{"bbox_2d": [885, 300, 980, 429], "label": "scallop"},\n'
    '\t{"bbox_2d": [162, 0, 303, 354], "label": "wine bottle"},\n'
    '\t{"bbox_2d": [462, 0, 589, 210], "label": "wine bottle"},\n'
    '\t{"bbox_2d": [615, 72, 730, 212], "label": "bowl"},\n'
    '\t{"bbox_2d": [255, 82, 333, 220], "label": "bowl"},\n'
    '\t{"bbox_2d": [0, 801, 102, 999], "label": "bowl"},\n'
    '\t{"bbox_2d": [619, 939, 762, 999], "label": "bowl"},\n'
    '\t{"bbox_2d": [981, 444, 999, 557], "label": "bowl"},\n'
    '\t{"bbox_2d": [462, 484, 597, 645], "label": "bowl"},\n'
    '\t{"bbox_2d": [636, 50, 712, 180], "label": "spoon"},\n'
    '\t{"bbox_2d": [728, 0, 864, 193], "label": "coconut drink"},\n'
    '\t{"bbox_2d": [728, 843, 846, 999], "label": "cup"},\n'
    '\t{"bbox_2d": [95, 812, 223, 999], "label": "cup"},\n'
    '\t{"bbox_2d": [796, 800, 839, 999], "label": "chopsticks"},\n'
    '\t{"bbox_2d": [902, 433, 999, 466], "label": "chopsticks"},\n'
    '\t{"bbox_2d": [557, 839, 605, 999], "label": "chopsticks"}\n'
    "]\n```"
)
REAL_BODY = REAL_BOXES.removeprefix("```json\n").removesuffix("\n```")  # the same answer without its fence
FIRST_THREE = [Found("plate/dish", box=(74, 361, 324, 808)), Found("plate/dish", box=(320, 660, 564, 956)),
               Found("plate/dish", box=(555, 575, 807, 901))]

# HAND-WRITTEN, not recorded: point answers in the cookbook's format (no recorded point answer could be read
# from the stored notebooks, whose text outputs sit between megabytes of inline images).
HAND_POINTS = ('```json\n[\n\t{"point_2d": [421, 532], "label": "mug handle"},\n'
               '\t{"point_2d": [688, 410], "label": "spoon"}\n]\n```')
HAND_POINT_IN_PROSE = ('The handle is on the right of the mug: {"point_2d": [812, 377], "label": "handle"}. '
                       'Grab it there.')

GREY = (128, 128, 128)


def entries(found):
    return [(f.label, f.box, f.point) for f in found]


# --- parse: the real answers -------------------------------------------------------------------------------------

def test_real_fenced_answer_keeps_the_first_max_objects_in_order():
    found = parse(REAL_BOXES)
    assert len(found) == MAX_OBJECTS == 20
    assert found[:3] == FIRST_THREE
    assert found[12] == Found("wine bottle", box=(162, 0, 303, 354))
    assert found[-1] == Found("bowl", box=(462, 484, 597, 645))  # the 20th of the 27
    assert all(f.point is None for f in found)


def test_unfenced_answer_reads_the_same():
    assert parse(REAL_BODY) == parse(REAL_BOXES)


def test_prose_around_the_fence():
    text = f'Sure! Here are the objects I found ("plates" first):\n{REAL_BOXES}\nLet me know if you need more.'
    assert parse(text) == parse(REAL_BOXES)


def test_hand_written_points_fenced_and_in_prose():
    assert parse(HAND_POINTS) == [Found("mug handle", point=(421, 532)), Found("spoon", point=(688, 410))]
    assert parse(HAND_POINT_IN_PROSE) == [Found("handle", point=(812, 377))]


def test_single_object_without_a_list():
    assert parse('{"bbox_2d": [10, 20, 30, 40], "label": "cup"}') == [Found("cup", box=(10, 20, 30, 40))]


def test_wrapper_object_and_nested_brackets():
    text = '{"detections": [{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"point_2d": [5, 6], "label": "b"}]}'
    assert parse(text) == [Found("a", box=(1, 2, 3, 4)), Found("b", point=(5, 6))]
    assert parse('[[[[{"bbox_2d": [[1, 2], [3, 4]], "label": "x"}]]]]') == []
    assert parse('{"a": {"b": {"point_2d": [7, 8], "label": "deep"}}}') == [Found("deep", point=(7, 8))]


# --- parse: truncated answers (cut by max_tokens) ----------------------------------------------------------------

def test_truncated_mid_object_keeps_the_complete_ones():
    cut = REAL_BOXES.index('"label": "plate/dish"},\n\t{"bbox_2d": [484')  # inside the third entry
    assert parse(REAL_BOXES[:cut]) == FIRST_THREE[:2]


def test_truncated_mid_number_keeps_the_complete_ones():
    cut = REAL_BOXES.index("[484, 187, 7") + len("[484, 187, 7")  # the fourth entry, cut inside 743
    assert parse(REAL_BOXES[:cut]) == FIRST_THREE


def test_braces_and_quotes_inside_labels():
    text = 'Boxes for "the {odd} one": [{"bbox_2d": [1, 2, 3, 4], "label": "a } b \\" {"}]'
    assert parse(text) == [Found('a } b " {', box=(1, 2, 3, 4))]


def test_truncated_inside_a_label_string():
    text = '[{"bbox_2d": [1, 2, 3, 4], "label": "ok"}, {"bbox_2d": [5, 6, 7, 8], "label": "cut {here'
    assert parse(text) == [Found("ok", box=(1, 2, 3, 4))]


# --- parse: values and shapes ------------------------------------------------------------------------------------

def test_out_of_range_values_are_clamped_and_floats_rounded():
    text = '[{"bbox_2d": [-50, 12.5, 1200, 999.4], "label": "a"}, {"point_2d": [1000.6, -0.4], "label": "b"}]'
    assert entries(parse(text)) == [("a", (0, 13, 1000, 999), None), ("b", None, (1000, 0))]


def test_swapped_corners_are_normalised():
    assert parse('{"bbox_2d": [900, 800, 100, 200], "label": "x"}') == [Found("x", box=(100, 200, 900, 800))]


@pytest.mark.parametrize("bad", [
    '{"bbox_2d": [1, 2, 3], "label": "three numbers"}',
    '{"bbox_2d": [1, 2, 3, 4, 5], "label": "five"}',
    '{"bbox_2d": ["1", "2", "3", "4"], "label": "strings"}',
    '{"bbox_2d": [true, false, 1, 2], "label": "booleans"}',
    '{"bbox_2d": [NaN, 2, 3, 4], "label": "nan"}',
    '{"bbox_2d": [1e999, 2, 3, 4], "label": "infinite"}',
    '{"bbox_2d": "1, 2, 3, 4", "label": "a string"}',
    '{"point_2d": [1], "label": "one number"}',
    '{"point_2d": [[1, 2]], "label": "nested"}',
    '{"label": "no coordinates"}',
    '{"box_2d": [1, 2, 3, 4], "label": "other key"}',
])
def test_wrong_shapes_are_skipped(bad):
    assert parse(bad) == []
    # and they do not stop the good entry after them
    assert parse(f'[{bad}, {{"point_2d": [9, 9], "label": "good"}}]') == [Found("good", point=(9, 9))]


def test_labels_missing_non_string_long_or_spaced():
    text = ('[{"bbox_2d": [1, 2, 3, 4]}, {"point_2d": [1, 2], "label": 7},'
            ' {"point_2d": [3, 4], "label": "  a\\n  b  "}, {"point_2d": [5, 6], "label": "' + "z" * 100 + '"}]')
    assert [f.label for f in parse(text)] == ["", "", "a b", "z" * MAX_LABEL]


def test_python_style_dicts_and_trailing_commas():
    assert parse("[{'bbox_2d': [1, 2, 3, 4], 'label': 'single',}]") == [Found("single", box=(1, 2, 3, 4))]


def test_unicode_labels():
    found = parse('{"point_2d": [10, 20], "label": "杯子 ☕"}')
    assert found == [Found("杯子 ☕", point=(10, 20))]
    assert draw(Image.new("RGB", (64, 48), GREY), found).getpixel(to_pixels(found[0], 64, 48)) == PALETTE[0]


# --- parse: never raises -----------------------------------------------------------------------------------------

FRAGMENTS = ['{', '}', '[', ']', '"', ',', ':', ' ', '\n', '\\', '\\"', '"bbox_2d"', '"point_2d"', '"label"',
             '{"bbox_2d": [', '{"point_2d": [', '"label": "', '1000', '-5', '12.5', '1e309', 'NaN', 'true',
             'null', '```json', '```', '杯', '☕', '\ud800', '\x00', "'", 'abc', '0', '7']


def check_found(found):
    assert isinstance(found, list) and len(found) <= MAX_OBJECTS
    for f in found:
        assert isinstance(f, Found) and isinstance(f.label, str) and len(f.label) <= MAX_LABEL
        assert f.box is not None or f.point is not None
        for v in (f.box or ()) + (f.point or ()):
            assert isinstance(v, int) and 0 <= v <= 1000
        if f.box:
            assert f.box[0] <= f.box[2] and f.box[1] <= f.box[3]


def test_random_strings_never_raise():
    rng = random.Random(20240611)
    hits = 0
    for n in range(400):
        if n % 2:
            text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 60)))
        else:
            text = "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 200)))
        found = parse(text)
        check_found(found)
        hits += bool(found)
    # Cut-up real answers: every prefix of the real answer parses to a prefix of the full result.
    full = parse(REAL_BOXES)
    for cut in range(0, len(REAL_BOXES), 7):
        found = parse(REAL_BOXES[:cut])
        check_found(found)
        assert found == full[:len(found)]
    assert parse(REAL_BOXES[:len(REAL_BOXES) // 2])  # the random part above is allowed to find nothing


@pytest.mark.parametrize("text", ["", " ", "```json\n```", "[]", "{}", "null", "}}}{{{", '"{"', "\\", None, 42])
def test_empty_and_garbage(text):
    assert parse(text) == []


def test_huge_inputs_stay_bounded():
    """(Their work is counted, not timed, in test_nested_braces_are_read_in_linear_work.)"""
    assert parse("{" * 300_000) == []
    deep = "{" * 100_000 + '"bbox_2d": [1, 2, 3, 4]' + "}" * 100_000  # only the innermost object is an entry
    assert parse(deep) == [Found("", box=(1, 2, 3, 4))]
    assert parse("[" * 100_000 + '{"point_2d": [1, 2], "label": "x"}' + "]" * 100_000) == [Found("x", point=(1, 2))]
    many = parse('{"bbox_2d": [1, 2, 3, 4], "label": "x"}, ' * 50_000)
    assert len(many) == MAX_OBJECTS


# --- schema and prompt -------------------------------------------------------------------------------------------

def test_schema_is_valid_and_accepts_the_real_answer_once_clamped():
    boxes = schema("boxes")
    jsonschema.Draft202012Validator.check_schema(boxes)
    jsonschema.validate(as_json(parse(REAL_BOXES)), boxes)
    jsonschema.validate(as_json(parse(HAND_POINTS)), schema("points"))


def test_schema_rejects_what_it_should():
    boxes, points = schema("boxes"), schema("points")
    raw = json.loads(REAL_BODY)
    jsonschema.validate(raw[:MAX_OBJECTS], boxes)
    bad = [
        raw,  # 27 objects: more than MAX_OBJECTS
        [{"bbox_2d": [1, 2, 3], "label": "x"}],
        [{"bbox_2d": [1, 2, 3, 1001], "label": "x"}],
        [{"bbox_2d": [1, 2, 3, 4.5], "label": "x"}],
        [{"bbox_2d": [1, 2, 3, 4]}],
        [{"bbox_2d": [1, 2, 3, 4], "label": "x" * (MAX_LABEL + 1)}],
        [{"bbox_2d": [1, 2, 3, 4], "label": "x", "score": 0.9}],
        [{"point_2d": [1, 2], "label": "x"}],
    ]
    for value in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(value, boxes)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"point_2d": [1, 2, 3], "label": "x"}], points)


def test_schema_keeps_to_plain_keywords():
    allowed = {"type", "items", "minItems", "maxItems", "minimum", "maximum", "maxLength", "properties",
               "required", "additionalProperties"}

    def keywords(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                if key == "properties":
                    for sub in value.values():
                        yield from keywords(sub)
                elif isinstance(value, dict):
                    yield from keywords(value)

    for kind in ("boxes", "points"):
        assert set(keywords(schema(kind))) <= allowed
    assert schema("points")["items"]["required"] == ["point_2d", "label"]
    with pytest.raises(ValueError):
        schema("polygons")


def test_prompt_wording():
    assert prompt("  red cup \n", "boxes") == ('Locate every instance of "red cup" in the image and report bbox '
                                              'coordinates in JSON format: [{"bbox_2d": [x1, y1, x2, y2], '
                                              '"label": "..."}].')
    assert '[{"point_2d": [x, y], "label": "..."}]' in prompt("cup", "points")
    with pytest.raises(ValueError):
        prompt("cup", "masks")


def test_as_json_round_trips():
    found = parse(HAND_POINTS) + FIRST_THREE
    assert as_json(found)[0] == {"point_2d": [421, 532], "label": "mug handle"}
    assert as_json(found)[2] == {"bbox_2d": [74, 361, 324, 808], "label": "plate/dish"}
    assert parse(json.dumps(as_json(found))) == found
    assert as_json([Found("nothing")]) == []


# --- pixels ------------------------------------------------------------------------------------------------------

def test_to_pixels_corners_and_middle_of_a_non_square_image():
    assert to_pixels(Found("a", box=(0, 0, 1000, 1000)), 640, 480) == (0, 0, 639, 479)
    assert to_pixels(Found("a", box=(500, 250, 750, 1000)), 640, 480) == (320, 120, 480, 479)
    assert to_pixels(Found("p", point=(500, 500)), 333, 517) == (167, 259)  # 166.5 and 258.5, rounded up
    assert to_pixels(Found("p", point=(1000, 0)), 333, 517) == (332, 0)
    with pytest.raises(ValueError):
        to_pixels(Found("nothing"), 640, 480)


# --- drawing -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(640, 480), (333, 517)])
def test_draw_boxes_and_points(size):
    image = Image.new("RGB", size, GREY)
    before = image.tobytes()
    found = [Found("plate", box=(100, 200, 600, 800)), Found("", box=(0, 0, 1000, 1000)),
             Found("handle", point=(800, 100))]
    out = draw(image, found)
    assert image.tobytes() == before and image.size == size
    assert out.size == size and out.mode == "RGB" and out is not image
    x1, y1, x2, y2 = to_pixels(found[0], *size)
    for corner in ((x1, y1), (x2, y1), (x1, y2), (x2, y2)):
        assert out.getpixel(corner) == PALETTE[0]
    assert out.getpixel(((x1 + x2) // 2, (y1 + y2) // 2)) == GREY  # well inside: untouched
    w, h = size
    for corner in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):  # the whole-image box, no room for a label above
        assert out.getpixel(corner) == PALETTE[1]
    assert out.getpixel(to_pixels(found[2], *size)) == PALETTE[2]
    # The first box's label sits on a background of its colour just above it.
    assert PALETTE[0] in {out.getpixel((x, y)) for x in range(x1, x1 + 20) for y in range(max(0, y1 - 25), y1)}


def test_draw_label_inside_a_box_at_the_top_keeps_its_corners():
    image = Image.new("RGB", (640, 480), GREY)
    found = [Found("a rather long label at the very top", box=(10, 0, 60, 20))]  # shorter than its label
    out = draw(image, found)
    x1, y1, x2, y2 = to_pixels(found[0], 640, 480)
    for corner in ((x1, y1), (x2, y1), (x1, y2), (x2, y2)):
        assert out.getpixel(corner) == PALETTE[0]


def test_draw_cycles_the_palette_and_copies_other_modes():
    image = Image.new("L", (300, 200), 128)
    found = [Found("", point=(50 + 60 * i, 500)) for i in range(len(PALETTE) + 1)]
    out = draw(image, found)
    assert out.mode == "RGB" and image.mode == "L" and image.getpixel((0, 0)) == 128
    colours = [out.getpixel(to_pixels(f, 300, 200)) for f in found]
    assert colours[:3] == list(PALETTE[:3]) and colours[-1] == PALETTE[0]
    assert draw(Image.new("RGB", (50, 40), GREY), []).getcolors() == [(2000, GREY)]


def test_nested_braces_are_read_in_linear_work(monkeypatch):
    """200,000 characters of nested braces around "bbox_2d": the JSON reader gets about twice the text in all, not
    every span again at each closing brace (24 s of CPU before the budget, issue 26)."""
    import demo.inputs.grounding as grounding

    read = []
    real = grounding.load_span
    monkeypatch.setattr(grounding, "load_span", lambda span: read.append(len(span)) or real(span))
    unit = "{" * 200 + '"bbox_2d"' + "}" * 200
    text = (unit * (grounding.MAX_TEXT // len(unit) + 1))[:grounding.MAX_TEXT]
    assert parse(text) == []
    assert sum(read) <= 2 * len(text) + grounding.MAX_SPAN
    # a real answer still gives every entry: twenty boxes in a wrapper, with prose around
    entries = [{"bbox_2d": [i, i, i + 10, i + 10], "label": f"cup {i}"} for i in range(20)]
    assert len(parse("Found:\n```json\n" + json.dumps({"objects": entries}, indent=2) + "\n```")) == 20

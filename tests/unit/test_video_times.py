"""demo/inputs/video_times.py: frame times as the model is told them, times found in answers, moments."""

from __future__ import annotations

import json
import random
import re

import pytest

from demo.inputs.video_times import (
    MAX_MOMENTS,
    TEMPORAL_PATCH,
    Moment,
    Span,
    clock,
    find_times,
    frame_labels,
    frame_times,
    moments_prompt,
    moments_schema,
    nearest_frame,
    pair_times,
    parse_moments,
    prompt_label,
)
from demo.outputs.seek import moments_html, seek_html

# --- what the model is told ---------------------------------------------------------------------------------

def test_pair_times_by_hand():
    assert TEMPORAL_PATCH == 2
    # (0/25 + 12/25) / 2 = 0.24; (25/25 + 37/25) / 2 = 1.24
    assert pair_times([0, 12, 25, 37], 25.0) == pytest.approx([0.24, 1.24])
    # odd count: the last frame is repeated, so the last pair is (50/25 + 50/25) / 2
    assert pair_times([0, 12, 25, 37, 50], 25.0) == pytest.approx([0.24, 1.24, 2.0])
    assert pair_times([7], 10.0) == pytest.approx([0.7])
    # the original indices count: a clip cut from 10 s is told times from 10 s
    assert pair_times((250, 275, 300, 325), 25.0) == pytest.approx([10.5, 12.5])
    assert pair_times([0, 1, 2, 3, 4, 5], 2.0, merge=3) == pytest.approx([0.5, 2.0])
    assert pair_times([], 25.0) == []
    with pytest.raises(ValueError):
        pair_times([0, 1], 0.0)


def test_pair_times_does_not_change_its_argument():
    indices = [0, 5, 10]
    pair_times(indices, 5.0)
    assert indices == [0, 5, 10]


def test_pair_times_matches_transformers():
    """A second witness: the processor's own method (it does not use ``self``; it pads its argument in place)."""
    mod = pytest.importorskip("transformers.models.qwen3_vl.processing_qwen3_vl")
    reference = mod.Qwen3VLProcessor._calculate_timestamps
    rng = random.Random(1234)
    for _ in range(50):
        n = rng.randint(1, 40)
        start = rng.randint(0, 5000)
        indices = sorted(start + rng.randint(0, 3000) for _ in range(n))
        fps = rng.choice([23.976, 24.0, 25.0, 29.97, 30.0, 59.94, 2.0, 0.5])
        expected = reference(None, list(indices), fps, 2)
        assert pair_times(indices, fps) == expected  # same arithmetic, so equal to the bit
        labels = frame_labels(indices, fps)
        for k, label in enumerate(labels):
            assert prompt_label(expected[k // 2]) == f"<{label[:-2]} seconds>"


def test_frame_times_and_labels_pair_up():
    indices = [0, 12, 25, 37, 50]
    assert frame_times(indices, 25.0) == pytest.approx([0.24, 0.24, 1.24, 1.24, 2.0])
    assert frame_labels(indices, 25.0) == ["0.2 s", "0.2 s", "1.2 s", "1.2 s", "2.0 s"]
    assert frame_labels((250, 275, 300, 325), 25.0) == ["10.5 s", "10.5 s", "12.5 s", "12.5 s"]
    assert frame_labels([], 25.0) == []


def test_prompt_label_is_the_processors_text():
    assert prompt_label(12.5) == "<12.5 seconds>"
    assert prompt_label(0.24) == "<0.2 seconds>"
    assert prompt_label(3723.06) == "<3723.1 seconds>"


# --- times in answers -----------------------------------------------------------------------------------------

def found(text: str) -> list[tuple[str, float]]:
    return [(text[s.start:s.end], s.seconds) for s in find_times(text)]


@pytest.mark.parametrize("text, expected", [
    ("at 12.5 seconds", [("12.5 seconds", 12.5)]),
    ("after 12 second", [("12 second", 12.0)]),
    ("around 12.5s.", [("12.5s", 12.5)]),
    ("at 12.5 sec,", [("12.5 sec", 12.5)]),
    ("at 4 secs", [("4 secs", 4.0)]),
    ("At 7 Seconds", [("7 Seconds", 7.0)]),
    ("the frame <12.5 seconds> shows", [("<12.5 seconds>", 12.5)]),
    ("(00:12)", [("00:12", 12.0)]),
    ("at 0:12.", [("0:12", 12.0)]),
    ("at 1:02:03", [("1:02:03", 3723.0)]),
    ("at 01:02.50", [("01:02.50", 62.5)]),
    ("at 1:02:03.5", [("1:02:03.5", 3723.5)]),
    ("lunch at 12:30", [("12:30", 750.0)]),  # accepted: indistinguishable from a time
    ("from 3.0 to 5.5 seconds", [("3.0", 3.0), ("5.5 seconds", 5.5)]),
    ("3.0-5.5 seconds", [("3.0", 3.0), ("5.5 seconds", 5.5)]),
    ("between 3 and 5 s", [("3", 3.0), ("5 s", 5.0)]),
    ("00:12 - 00:15", [("00:12", 12.0), ("00:15", 15.0)]),
    ("3s to 5s", [("3s", 3.0), ("5s", 5.0)]),
])
def test_find_times_forms(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "Python 3.10.2 s", "version 3.10.2", "a 16:9 frame", "4:3", "3 apples", "10%", "2024-05-01", "01/02/2024",
    "abc12s", "mp4s", "x2 seconds", "the 1990s", "12.5", "00:01:02,500", "12:30:45:10", "16:90", "sec 12",
])
def test_find_times_ignores_non_times(text):
    assert find_times(text) == []


def test_find_times_spans_are_ordered_and_disjoint():
    text = "At 0:05 a dog, then <12.5 seconds> and 3.0-5.5 s, lastly 1:02:03 and 7s; v3.10.2 16:9."
    spans = find_times(text)
    assert [s.seconds for s in spans] == [5.0, 12.5, 3.0, 5.5, 3723.0, 7.0]
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert spans[0] == Span(3, 7, 5.0)


def test_nearest_frame():
    times = [0.24, 0.24, 1.24, 1.24, 2.0]
    assert nearest_frame(0.0, times) == 0
    assert nearest_frame(1.0, times) == 2
    assert nearest_frame(1.7, times) == 4
    assert nearest_frame(99.0, times) == 4
    assert nearest_frame(0.74, [0.24, 1.24]) == 0  # a tie goes to the earlier frame
    assert nearest_frame(3.0, []) is None


# --- answers as HTML ----------------------------------------------------------------------------------------

CHIP = re.compile(r'<button type="button" class="seek-chip" data-seek="([^"]*)"( data-frame="(\d+)")?>(.*?)</button>')


def test_seek_html_escapes_the_answer_and_makes_chips():
    answer = '<script>alert("x")</script> At 0:12 & <12.5 seconds>\nthen 1:02.5'
    out = seek_html(answer, [0.0, 0.0, 12.0, 12.0, 62.0, 62.0])
    assert "<script>" not in out
    assert out.startswith("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; At ")
    chips = CHIP.findall(out)
    assert [(c[0], c[2], c[3]) for c in chips] == [("12", "2", "0:12"), ("12.5", "2", "&lt;12.5 seconds&gt;"),
                                                   ("62.5", "4", "1:02.5")]
    assert "<br>" in out and "\n" not in out
    # nothing but the chips and <br> is markup
    assert re.sub(r"<br>", "", CHIP.sub("", out)).count("<") == 0


def test_seek_html_without_frames_omits_data_frame():
    out = seek_html("at 3 s", None)
    assert out == 'at <button type="button" class="seek-chip" data-seek="3">3 s</button>'
    assert seek_html("at 3 s", []) == out


def test_seek_html_leaves_times_past_the_end_as_text():
    out = seek_html("at 10.4 s, 10.6 s and 30 s", [0.0, 10.0], duration=10.0)
    assert [c[0] for c in CHIP.findall(out)] == ["10.4"]
    assert out.endswith(", 10.6 s and 30 s")
    assert seek_html("no times here <b>", [0.0]) == "no times here &lt;b&gt;"


# --- moments --------------------------------------------------------------------------------------------------

def test_moments_schema():
    schema = moments_schema(12.31)
    assert schema == {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_MOMENTS,
        "items": {
            "type": "object",
            "properties": {"time": {"type": "number", "minimum": 0, "maximum": 12.4},
                           "label": {"type": "string", "maxLength": 60}},
            "required": ["time", "label"],
            "additionalProperties": False,
        },
    }
    assert moments_schema(12.3)["items"]["properties"]["time"]["maximum"] == 12.3  # not 12.4 from float noise
    assert MAX_MOMENTS == 12
    json.dumps(schema)  # serialisable as sent


def test_moments_prompt():
    assert moments_prompt("  a dog\njumps ") == ('Find the moments in the video where "a dog jumps". Answer in JSON: '
                                                 '[{"time": seconds from the start, "label": "what happens"}].')


def test_parse_moments_fenced_and_unfenced():
    body = '[{"time": 5.5, "label": " dog jumps "}, {"time": "00:02", "label": "dog sits"}]'
    expected = [Moment(2.0, "dog sits"), Moment(5.5, "dog jumps")]
    assert parse_moments(body, 10.0) == expected
    assert parse_moments(f"Here you go:\n```json\n{body}\n```", 10.0) == expected
    assert parse_moments('{"moments": ' + body + "}", 10.0) == expected


def test_parse_moments_salvages_a_truncated_answer():
    text = '```json\n[{"time": 1, "label": "a"}, {"time": "3.5 seconds", "label": "b"}, {"time": 4, "lab'
    assert parse_moments(text, 10.0) == [Moment(1.0, "a"), Moment(3.5, "b")]


def test_parse_moments_clamps_and_limits():
    text = json.dumps([{"time": -2, "label": "before"}, {"time": 99, "label": "after"}, {"time": "7", "label": 3}])
    assert parse_moments(text, 10.0) == [Moment(0.0, "before"), Moment(7.0, ""), Moment(10.0, "after")]
    assert parse_moments(text, None)[-1] == Moment(99.0, "after")
    many = json.dumps([{"time": 30 - i, "label": f"m{i}"} for i in range(20)])
    got = parse_moments(many, 60.0)
    assert len(got) == MAX_MOMENTS
    assert [m.seconds for m in got] == sorted(m.seconds for m in got) == [float(t) for t in range(19, 31)]
    assert parse_moments(json.dumps([{"time": 1, "label": "x" * 200}]), 5.0)[0].label == "x" * 60


@pytest.mark.parametrize("text", [
    "", "no json", "[]", "{}", "[1, 2, 3]", '[{"label": "no time"}]', '[{"time": true, "label": "b"}]',
    '[{"time": NaN, "label": "n"}]', '[{"time": "soon", "label": "s"}]', '[{"time": null}]', "[" * 5000, "{" * 5000,
])
def test_parse_moments_garbage_gives_nothing(text):
    assert parse_moments(text, 10.0) == []


def test_parse_moments_never_raises():
    rng = random.Random(7)
    alphabet = '[]{}":,0123456789.-e tlimeabx\n`\\'
    pieces = ['{"time": ', '"label": ', '"00:12"', "1e999", "[", "]", "{", "}", ",", '"', "12.5", "null"]
    for _ in range(300):
        if rng.random() < 0.5:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        else:
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        got = parse_moments(text, rng.choice([None, 5.0]))
        assert isinstance(got, list) and len(got) <= MAX_MOMENTS
        assert all(isinstance(m, Moment) and m.seconds >= 0 for m in got)


def test_moments_html():
    out = moments_html([Moment(2.0, "dog <sits>"), Moment(75.25, "")], [0.0, 0.0, 2.0, 2.0, 75.0, 75.0])
    assert out == ('<button type="button" class="seek-chip" data-seek="2" data-frame="2">'
                   "0:02.0 dog &lt;sits&gt;</button>"
                   ' <button type="button" class="seek-chip" data-seek="75.25" data-frame="4">1:15.3</button>')
    assert moments_html([Moment(1.0, "a")]) == '<button type="button" class="seek-chip" data-seek="1">0:01.0 a</button>'
    assert moments_html([], [0.0]) == ""


def test_clock():
    assert clock(75.25) == "1:15.3"
    assert clock(3725) == "1:02:05.0"
    assert clock(0) == "0:00.0"
    assert clock(59.96) == "1:00.0"
    assert clock(12.04) == "0:12.0"
    assert clock(-3) == "0:00.0"


def test_parse_moments_keeps_what_came_before_deep_garbage():
    text = '[{"time": 1, "label": "a"}] ' + "[" * 5000
    assert parse_moments(text, 10.0) == [Moment(1.0, "a")]

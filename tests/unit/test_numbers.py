"""demo/inputs/numbers.finite, and the readers that go through it, on integers too large for a float (issue 26)."""

from __future__ import annotations

import json
import math

import pytest

from demo.inputs.conversation_file import ConversationFileError, export, load
from demo.inputs.grounding import parse
from demo.inputs.video_times import parse_moments

HUGE = 10**400  # a valid JSON integer; float(HUGE) raises OverflowError


@pytest.mark.parametrize("value,expected", [
    (1, 1.0), (-2.5, -2.5), (0, 0.0), (10**300, 1e300),
    (HUGE, None), (-HUGE, None), (math.nan, None), (math.inf, None), (-math.inf, None),
    (True, None), ("3", None), (None, None), ([1], None),
])
def test_finite(value, expected):
    from demo.inputs.numbers import finite
    assert finite(value) == expected


def test_a_box_with_a_400_digit_coordinate_is_dropped_not_raised():
    text = json.dumps([{"bbox_2d": [HUGE, 10, 20, 30], "label": "big"}, {"bbox_2d": [1, 2, 3, 4], "label": "ok"}])
    assert [f.label for f in parse(text)] == ["ok"]
    assert parse(json.dumps({"point_2d": [5, -HUGE]})) == []


def test_a_moment_at_a_400_digit_second_is_dropped_not_raised():
    moments = parse_moments(json.dumps([{"time": HUGE, "label": "x"}, {"time": 2, "label": "y"}]), duration=10.0)
    assert [m.label for m in moments] == ["y"]


@pytest.mark.parametrize("turn_extra,what", [
    ({"thinking_s": HUGE}, "the thinking time of turn 2"),
    ({"sent": {"params": {"temperature": HUGE}}}, "the temperature of turn 2"),
])
def test_a_document_number_too_large_for_a_float_is_refused_with_its_sentence(tmp_path, turn_extra, what):
    doc = export("chat", [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi."}], model="m")
    doc["turns"][1].update(turn_extra)
    with pytest.raises(ConversationFileError) as info:
        load(json.dumps(doc), folder=tmp_path / "in")
    assert str(info.value) == str(ConversationFileError("import_bad", detail=f"{what} is not a number in range"))


"""demo/ui/image_find.py: a chat answer that holds the cookbook's grounding JSON is drawn on the latest image."""

from __future__ import annotations

from pathlib import Path

from demo.inputs.conversation import assistant_turn, user_turn
from demo.ui.image_find import found_in_answer, found_summary

ASSETS = Path(__file__).resolve().parents[2] / "assets"
ANSWER = 'Here you are:\n```json\n[{"bbox_2d": [100, 200, 300, 400], "label": "cup"}]\n```'


def test_boxes_in_the_last_answer_are_found_with_the_latest_image():
    history = [user_turn("What is this?", [str(ASSETS / "chelsea.jpg")]), assistant_turn("A cat."),
               user_turn("Locate the cup", [str(ASSETS / "coffee.jpg")]), assistant_turn(ANSWER)]
    found, path = found_in_answer(history)
    assert path == str(ASSETS / "coffee.jpg")
    assert [(f.label, f.box) for f in found] == [("cup", (100, 200, 300, 400))]
    assert found_summary(found) == "1 found: cup"


def test_an_answer_without_boxes_or_without_an_image_draws_nothing():
    assert found_in_answer([user_turn("hi", [str(ASSETS / "coffee.jpg")]), assistant_turn("Just a cup.")]) == ([], None)
    assert found_in_answer([user_turn("hi"), assistant_turn(ANSWER)]) == ([], None)
    assert found_in_answer([user_turn("Locate", [str(ASSETS / "coffee.jpg")])]) == ([], None)  # no answer yet
    assert found_in_answer([]) == ([], None)

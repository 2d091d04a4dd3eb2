"""A request's image preparation stops once the request is gone (issue 26): to_openai looks at its ``cancelled``
event before each image."""

from __future__ import annotations

import pytest
from PIL import Image

from demo.inputs.conversation import Abandoned, to_openai, user_turn


class SetAfter:
    """An event that reads as set from its ``n``-th look on, and counts the looks."""

    def __init__(self, n: int):
        self.n, self.looks = n, 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.looks >= self.n


@pytest.fixture()
def three_images(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (64, 48), (i * 80, 10, 10)).save(path)
        paths.append(str(path))
    return [user_turn("What differs?", paths)]


def test_preparation_stops_at_the_next_image_once_cancelled(three_images):
    event = SetAfter(2)  # set while the first image is being prepared
    with pytest.raises(Abandoned):
        to_openai(three_images, cancelled=event)
    assert event.looks == 2  # the second image was never started


def test_without_a_cancel_every_image_is_prepared(three_images):
    event = SetAfter(99)
    (message,) = to_openai(three_images, cancelled=event)
    assert [p["type"] for p in message["content"]] == ["image_url"] * 3 + ["text"]
    assert event.looks == 3

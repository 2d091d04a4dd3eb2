"""``/describe_image``'s detail (issue 29) through ``gradio_client`` on the real engines (tiny checkpoint): the
server's prompt tokens differ by exactly the announced visual tokens; a level of none is a sentence, and the next
request works; a caller that names no detail gets "standard", the budget of before."""

from __future__ import annotations

import re

import pytest
from gradio_client import handle_file
from PIL import Image

from demo.errors import MESSAGES
from demo.inputs.images import detail_pixels, seen_size
from tests.waits import app_client

SIZE = (2000, 1500)
STATS = re.compile(r"(\d+) prompt \+ (\d+) completion tokens")


@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


def prompt_tokens(client, path: str, **detail) -> int:
    stats, answer, _ = client.predict(handle_file(path), "What is written here?", max_tokens=4, **detail,
                                      api_name="/describe_image")
    assert answer
    return int(STATS.search(stats).group(1))


def tokens(level: str) -> int:
    return seen_size(*SIZE, detail_pixels(level, 8192)).tokens


def test_describe_image_detail(client, tmp_path):
    path = tmp_path / "page.jpg"
    Image.new("RGB", SIZE, (240, 240, 230)).save(path, "JPEG")
    low = prompt_tokens(client, str(path), detail="low")
    high = prompt_tokens(client, str(path), detail="high")
    assert high - low == tokens("high") - tokens("low") > 0, (low, high)

    with pytest.raises(Exception) as refused:
        prompt_tokens(client, str(path), detail="ultra")
    assert MESSAGES["bad_detail"].format(value="ultra", levels="low, standard, high") in str(refused.value)
    assert "Traceback" not in str(refused.value)

    standard = prompt_tokens(client, str(path))  # no detail named: "standard", and the app still answers
    assert standard - low == tokens("standard") - tokens("low"), (low, standard)

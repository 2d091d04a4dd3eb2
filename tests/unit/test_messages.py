"""demo/errors.py: every user-facing sentence formats, and every code the app raises exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from demo.errors import MESSAGES, EngineError, ImageError, UserFacingError, VideoError

DEMO = Path(__file__).resolve().parents[2] / "demo"

# A plausible value for every format field any message uses.
PLAUSIBLE = {
    "detail": "connection refused",
    "seconds": 300.0,
    "max_model_len": 8192,
    "budget": 12,
    "name": "holiday.heic",
    "size": "196 megapixels",
    "limit": 120.0,
    "hours": 3,
    "version": 2,
    "supported": 1,
    "reason": "No space left on device",
    "value": "ultra",  # image detail (issue 29)
    "levels": "low, standard, high",
    # documents and regions (issue 29)
    "count": 3000,
    "pages": 2000,
    "page": 4,
    "width": 200000.0,
    "height": 200000.0,
    "parts": 64,
    "given": "[0, 0, 2000, 10]",
}


def fields_of(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_message_formats_with_plausible_fields(code):
    template = MESSAGES[code]
    needed = fields_of(template)
    assert needed <= set(PLAUSIBLE), f"{code} needs {needed - set(PLAUSIBLE)}"
    text = template.format(**PLAUSIBLE)
    assert text.strip()
    # no field left unfilled: the only braces are the template's own literal ones ({{ and }}, e.g. a JSON shape)
    assert text.count("{") == template.count("{{") and text.count("}") == template.count("}}")
    assert "Traceback" not in text
    assert str(UserFacingError(code, **{k: PLAUSIBLE[k] for k in needed})) == text


def test_error_classes_carry_code_and_fields():
    err = VideoError("no_room", budget=12)
    assert err.code == "no_room"
    assert err.fields == {"budget": 12}
    assert "12 tokens" in str(err)
    assert isinstance(err, UserFacingError)
    assert isinstance(EngineError("empty"), UserFacingError)
    assert str(EngineError("server_timeout", seconds=299.6)) == (
        "The model server did not answer within 300 s. Please try again.")


def test_every_code_raised_in_the_app_exists_with_its_fields():
    pattern = re.compile(r"(?:EngineError|VideoError|ImageError|UserFacingError)\(\s*\"(\w+)\"([^)]*)")
    found = 0
    for path in sorted(DEMO.rglob("*.py")):
        for code, args in pattern.findall(path.read_text()):
            found += 1
            assert code in MESSAGES, f"{path.name}: unknown message code {code!r}"
            given = set(re.findall(r"(\w+)\s*=", args))
            assert fields_of(MESSAGES[code]) <= given, f"{path.name}: {code} without {fields_of(MESSAGES[code])}"
    assert found >= 10


def test_image_too_large_takes_name_size_and_limit():
    assert fields_of(MESSAGES["image_too_large"]) == {"name", "size", "limit"}
    err = ImageError("image_too_large", name="pano.png", size="196 megapixels", limit=120.0)
    assert err.code == "image_too_large"
    assert str(err) == "“pano.png” is too large (196 megapixels); the limit is 120 megapixels."
    assert isinstance(err, UserFacingError)

"""Names and disk failures of a conversation's imported images (issue 26): bounded in bytes, a sentence without a
path."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from demo.inputs.conversation_file import NAME_BYTES, ConversationFileError, load, safe_name

WIDE = "\U0001d54f"  # a four-byte letter (MATHEMATICAL DOUBLE-STRUCK CAPITAL X): \w, so safe_name keeps it


def png_url() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def image_doc(name: str) -> dict:
    return {"format": "qwen3-vl-demo/conversation", "version": 1, "tab": "image", "model": "m", "turns": [
        {"role": "user", "content": [{"type": "image", "name": name, "url": png_url()},
                                     {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "content": "A square."}]}


@pytest.mark.parametrize("name", [WIDE * 90, "é" * 200, "a" * 300, WIDE * 19 + "ab.png"],
                         ids=["four-byte", "two-byte", "ascii", "four-byte-with-suffix"])
def test_a_name_is_cut_to_its_bytes_between_characters(name):
    safe = safe_name(name)
    assert 0 < len(safe.encode("utf-8")) <= NAME_BYTES
    assert name.startswith(safe[:10])  # cut, not rewritten


def test_a_name_of_ninety_four_byte_letters_is_stored(tmp_path):
    loaded = load(json.dumps(image_doc(WIDE * 90 + ".png")), folder=tmp_path)
    (part,) = [p for p in loaded.history[0]["content"] if p["type"] == "image"]
    with Image.open(part["path"]) as img:
        assert img.size == (32, 24)


def test_a_disk_failure_is_a_sentence_without_the_servers_path(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the import's folder would go")
    with pytest.raises(ConversationFileError) as info:
        load(json.dumps(image_doc("cat.png")), folder=blocker)
    assert info.value.code == "import_not_stored"
    assert str(tmp_path) not in str(info.value) and "/" not in str(info.value)

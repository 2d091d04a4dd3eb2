"""demo/engines/model.py and demo/engines/tiny_checkpoint.py: local folders, failed downloads, the tiny checkpoint."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from demo.engines.model import ModelSourceError, download, resolve_model
from demo.engines.model_card import footprint_of_dir
from demo.engines.tiny_checkpoint import FOLDER_NAME, ensure_tiny_checkpoint
from demo.settings import Settings


def settings(*argv: str) -> Settings:
    return Settings.from_args(list(argv), env={})


# --- local folders ------------------------------------------------------------------------------------------

def make_folder(path: Path, *, config: bool, weights: bool) -> Path:
    path.mkdir(parents=True)
    if config:
        (path / "config.json").write_text("{}")
    if weights:
        (path / "model.safetensors").write_bytes(b"\0" * 16)
    return path


def test_complete_local_folder_resolves_to_itself(tmp_path):
    folder = make_folder(tmp_path / "ckpt", config=True, weights=True)
    assert resolve_model(settings("--model", str(folder))) == folder


def test_folder_missing_config(tmp_path):
    folder = make_folder(tmp_path / "no-config", config=False, weights=True)
    with pytest.raises(ModelSourceError) as info:
        resolve_model(settings("--model", str(folder)))
    msg = str(info.value)
    assert str(folder) in msg
    assert "config.json" in msg
    assert "safetensors" not in msg
    assert "--model" in msg


def test_folder_missing_weights(tmp_path):
    folder = make_folder(tmp_path / "no-weights", config=True, weights=False)
    with pytest.raises(ModelSourceError) as info:
        resolve_model(settings("--model", str(folder)))
    msg = str(info.value)
    assert str(folder) in msg
    assert "*.safetensors" in msg
    assert "config.json" not in msg


def test_empty_folder_names_both(tmp_path):
    folder = make_folder(tmp_path / "empty", config=False, weights=False)
    with pytest.raises(ModelSourceError) as info:
        resolve_model(settings("--model", str(folder)))
    assert "config.json" in str(info.value) and "*.safetensors" in str(info.value)


def test_missing_absolute_path(tmp_path):
    missing = tmp_path / "does" / "not" / "exist"
    with pytest.raises(ModelSourceError) as info:
        resolve_model(settings("--model", str(missing)))
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)


def test_missing_relative_path_is_local_not_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSourceError) as info:
        resolve_model(settings("--model", "./nothing-here"))
    assert "nothing-here" in str(info.value)
    assert "does not exist" in str(info.value)


def test_a_file_is_not_a_model_folder(tmp_path):
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"x")
    with pytest.raises(ModelSourceError) as info:
        resolve_model(settings("--model", str(file)))
    assert str(file) in str(info.value)


# --- downloads that cannot work -----------------------------------------------------------------------------

@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """Both hub clients pointed at a closed local port, with no stored credentials read."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "127.0.0.1:9")
    # MODELSCOPE_DOMAIN is deprecated in this client; its successor wins when both are set.
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("MODELSCOPE_API_TOKEN", "")
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "ms-home"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    return tmp_path


@pytest.mark.timeout(60)
@pytest.mark.parametrize("source,other", [("huggingface", "modelscope"), ("modelscope", "huggingface")])
def test_failed_download_explains_what_to_do(no_hub, source, other):
    s = settings("--model", "nobody-here/no-such-model", "--model-source", source,
                 "--cache-dir", str(no_hub / "cache"))
    with pytest.raises(ModelSourceError) as info:
        download(s)
    msg = str(info.value)
    assert f"from {source}" in msg
    assert "nobody-here/no-such-model" in msg
    assert "--model" in msg
    assert f"--model-source {other}" in msg
    assert "--model tiny" in msg
    assert "Traceback" not in msg
    assert info.value.__cause__ is not None


@pytest.mark.timeout(60)
def test_hub_id_goes_through_download(no_hub):
    s = settings("--model", "nobody-here/no-such-model", "--model-source", "huggingface",
                 "--cache-dir", str(no_hub / "cache"))
    with pytest.raises(ModelSourceError) as info:
        resolve_model(s)
    assert "from huggingface" in str(info.value)


# --- the tiny checkpoint ------------------------------------------------------------------------------------

EXPECTED_FILES = {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"}


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("tiny-cache")
    ensure_tiny_checkpoint(cache)
    return cache


@pytest.fixture(scope="module")
def tiny(tiny_cache) -> Path:
    return tiny_cache / FOLDER_NAME


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiny_resolves_through_the_tiny_builder(tiny_cache, tiny):
    path = resolve_model(settings("--model", "tiny", "--cache-dir", str(tiny_cache)))
    assert path == tiny
    assert EXPECTED_FILES <= {p.name for p in path.iterdir()}
    assert (path / "TINY_CHECKPOINT.json").is_file()


def test_tiny_second_call_reuses_the_folder(tiny_cache, tiny):
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in tiny.iterdir()}
    assert ensure_tiny_checkpoint(tiny_cache) == tiny
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in tiny.iterdir()}
    assert before == after
    # No staging folder is left behind.
    assert [p.name for p in tiny_cache.iterdir()] == [FOLDER_NAME]


def test_tiny_build_is_deterministic(tmp_path, tiny):
    again = ensure_tiny_checkpoint(tmp_path)
    assert again == tmp_path / FOLDER_NAME
    for name in ("model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja"):
        assert sha256(again / name) == sha256(tiny / name), name


def test_tiny_tokenizer_knows_qwens_special_tokens(tiny):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    config = json.loads((tiny / "config.json").read_text())
    ids = {}
    for token in ("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                  "<|video_pad|>"):
        encoded = tok.encode(token, add_special_tokens=False)
        assert len(encoded) == 1, (token, encoded)
        assert encoded[0] == tok.convert_tokens_to_ids(token)
        assert tok.decode(encoded) == token
        ids[token] = encoded[0]
    assert len(set(ids.values())) == len(ids)
    assert config["image_token_id"] == ids["<|image_pad|>"]
    assert config["video_token_id"] == ids["<|video_pad|>"]
    assert config["vision_start_token_id"] == ids["<|vision_start|>"]
    assert config["vision_end_token_id"] == ids["<|vision_end|>"]
    # A special token inside text stays one token.
    text_ids = tok.encode("hello <|image_pad|> world", add_special_tokens=False)
    assert text_ids.count(ids["<|image_pad|>"]) == 1


def test_tiny_processor_renders_image_and_video_placeholders(tiny):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny)
    messages = [{"role": "user", "content": [
        {"type": "image"}, {"type": "video"}, {"type": "text", "text": "What happens?"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image = "<|vision_start|><|image_pad|><|vision_end|>"
    video = "<|vision_start|><|video_pad|><|vision_end|>"
    assert text.count(image) == 1
    assert text.count(video) == 1
    assert text.index(image) < text.index(video) < text.index("What happens?")
    assert text.startswith("<|im_start|>user")
    assert "<|im_end|>" in text
    assert text.rstrip().endswith("<|im_start|>assistant")


def test_tiny_footprint_is_read_from_its_config(tiny):
    fp = footprint_of_dir(tiny)
    text = json.loads((tiny / "config.json").read_text())["text_config"]
    assert fp.kv_bytes_per_token == 2 * text["num_hidden_layers"] * text["num_key_value_heads"] * text["head_dim"] * 2
    assert fp.kv_bytes_per_token == 2 * 2 * 1 * 64 * 2
    assert fp.weights_gib * 1024**3 == pytest.approx((tiny / "model.safetensors").stat().st_size)

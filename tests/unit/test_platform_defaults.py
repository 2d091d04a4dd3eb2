"""Spaces: settings from the environment alone, 0.0.0.0:7860, and the hub that hosts the Space."""

from __future__ import annotations

import pytest

from demo.settings import Settings, platform_defaults


def test_no_platform_means_no_platform_defaults():
    assert platform_defaults({}) == {}
    s = Settings.from_args([], env={})
    assert (s.host, s.app_port, s.model_source) == ("127.0.0.1", 7860, "modelscope")


def test_hugging_face_space_listens_everywhere_and_downloads_from_hugging_face():
    s = Settings.from_args([], env={"SPACE_ID": "someone/demo"})
    assert (s.host, s.app_port, s.model_source) == ("0.0.0.0", 7860, "huggingface")


def test_modelscope_studio_listens_everywhere_and_downloads_from_modelscope():
    s = Settings.from_args([], env={"MODELSCOPE_ENVIRONMENT": "studio"})
    assert (s.host, s.app_port, s.model_source) == ("0.0.0.0", 7860, "modelscope")


@pytest.mark.parametrize("env", [{"MODELSCOPE_ENVIRONMENT": "eas"}, {"SPACE_ID": ""}])
def test_other_values_are_not_a_platform(env):
    assert platform_defaults(env) == {}


def test_variables_and_flags_beat_the_platform():
    env = {"SPACE_ID": "someone/demo", "QWEN_DEMO_MODEL_SOURCE": "modelscope", "GRADIO_SERVER_PORT": "9000"}
    s = Settings.from_args([], env=env)
    assert (s.host, s.app_port, s.model_source) == ("0.0.0.0", 9000, "modelscope")
    s = Settings.from_args(["--host", "127.0.0.1", "--model-source", "huggingface"], env=env)
    assert (s.host, s.model_source) == ("127.0.0.1", "huggingface")

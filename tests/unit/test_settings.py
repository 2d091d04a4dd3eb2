"""demo/settings.py: defaults, flags, environment variables, precedence and validation."""

from __future__ import annotations

import dataclasses

import pytest

from demo.settings import ENV_PREFIX, Settings, build_parser, env_name

FIELDS = [f.name for f in dataclasses.fields(Settings)]
FIELD_BY_NAME = {f.name: f for f in dataclasses.fields(Settings)}
BOOL_FIELDS = {"trust_remote_code", "share", "enforce_eager"}

# For every field: (a raw non-default value, the value it parses to, a second raw value, its parsed value).
VALUES = {
    "model": ("/models/qwen", "/models/qwen", "tiny", "tiny"),
    "served_model_name": ("qwen-a", "qwen-a", "qwen-b", "qwen-b"),
    "max_model_len": ("4096", 4096, "16384", 16384),
    "tensor_parallel_size": ("2", 2, "4", 4),
    "port": ("9000", 9000, "9001", 9001),
    "gpu_memory_utilization": ("0.5", 0.5, "0.75", 0.75),
    "trust_remote_code": ("false", False, "true", True),
    "host": ("0.0.0.0", "0.0.0.0", "192.168.1.2", "192.168.1.2"),
    "app_port": ("7000", 7000, "7001", 7001),
    "share": ("true", True, "false", False),
    "api_base": ("http://h:1/v1", "http://h:1/v1", "http://h:2", "http://h:2"),
    "api_key": ("key-one", "key-one", "key-two", "key-two"),
    "model_source": ("huggingface", "huggingface", "modelscope", "modelscope"),
    "cache_dir": ("/cache/a", "/cache/a", "/cache/b", "/cache/b"),
    "reasoning_parser": ("none", "none", "deepseek_r1", "deepseek_r1"),
    "video_via": ("worker", "worker", "server", "server"),
    "video_gpu_memory_utilization": ("0.8", 0.8, "0.6", 0.6),
    "video_max_tokens": ("512", 512, "256", 256),
    "cpu_kv_cache_gib": ("8", 8, "2", 2),
    "enforce_eager": ("1", True, "0", False),
    "engine_start": ("together", "together", "server-first", "server-first"),
    "light_stream": ("on", "on", "off", "off"),
    "startup_timeout": ("60", 60.0, "120.5", 120.5),
    "request_timeout": ("30", 30.0, "45", 45.0),
    "video_timeout": ("90", 90.0, "100", 100.0),
    "video_read_timeout": ("30", 30.0, "45.5", 45.5),
    "stream_interval": ("0.1", 0.1, "0", 0.0),
    "concurrency_limit": ("8", 8, "4", 4),
    "video_concurrency": ("2", 2, "6", 6),
    "max_queue_size": ("16", 16, "128", 128),
    "max_file_size_mb": ("50", 50, "500", 500),
    "max_restarts": ("2", 2, "0", 0),
    "session_capacity": ("200", 200, "5000", 5000),
    "state_ttl": ("600", 600.0, "7200.5", 7200.5),
    "pace_budget": ("0.5", 0.5, "0", 0.0),
    "max_concurrency": ("64", 64, "0", 0),
    "closed_state_ttl": ("5", 5.0, "0.5", 0.5),
    "app_processes": ("2", 2, "0", 0),
}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def argv_for(name: str, raw: str, parsed) -> list[str]:
    if name in BOOL_FIELDS:
        return [flag(name)] if parsed else ["--no-" + name.replace("_", "-")]
    return [flag(name), raw]


def test_value_table_covers_every_field():
    assert set(VALUES) == set(FIELDS)


def test_defaults_are_the_seeds_vllm_values():
    s = Settings.from_args([], env={})
    assert s.model == "Qwen/Qwen3-VL-4B-Instruct"
    assert s.served_model_name == "Qwen3-VL-4B-Instruct"
    assert s.max_model_len == 8192
    assert s.tensor_parallel_size == 1
    assert s.port == 8085
    assert s.gpu_memory_utilization == 0.9
    assert s.trust_remote_code is True
    assert s.host == "127.0.0.1"
    assert s.share is False
    assert s.api_base is None and s.api_key is None
    assert s.model_source == "modelscope"
    assert s.video_via == "auto"
    assert s.video_gpu_memory_utilization == 0.99
    assert s == Settings()
    assert s.problems() == []


def test_env_names():
    assert env_name(FIELD_BY_NAME["host"]) == "GRADIO_SERVER_NAME"
    assert env_name(FIELD_BY_NAME["app_port"]) == "GRADIO_SERVER_PORT"
    for name in FIELDS:
        if name not in ("host", "app_port"):
            assert env_name(FIELD_BY_NAME[name]) == ENV_PREFIX + name.upper() == f"QWEN_DEMO_{name.upper()}"


@pytest.mark.parametrize("name", FIELDS)
def test_environment_sets_each_field(name):
    raw, parsed, _, _ = VALUES[name]
    s = Settings.from_args([], env={env_name(FIELD_BY_NAME[name]): raw})
    assert getattr(s, name) == parsed
    assert getattr(s, name) != FIELD_BY_NAME[name].default


@pytest.mark.parametrize("name", FIELDS)
def test_flag_sets_each_field(name):
    raw, parsed, _, _ = VALUES[name]
    s = Settings.from_args(argv_for(name, raw, parsed), env={})
    assert getattr(s, name) == parsed


@pytest.mark.parametrize("name", FIELDS)
def test_flag_beats_environment(name):
    env_raw, env_parsed, flag_raw, flag_parsed = VALUES[name]
    assert env_parsed != flag_parsed
    s = Settings.from_args(argv_for(name, flag_raw, flag_parsed), env={env_name(FIELD_BY_NAME[name]): env_raw})
    assert getattr(s, name) == flag_parsed


def test_gradio_env_names_set_host_and_app_port():
    s = Settings.from_args([], env={"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"})
    assert (s.host, s.app_port) == ("0.0.0.0", 7861)
    s = Settings.from_args(["--host", "10.0.0.1", "--app-port", "8000"],
                           env={"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"})
    assert (s.host, s.app_port) == ("10.0.0.1", 8000)


def test_empty_environment_value_falls_back_to_default():
    s = Settings.from_args([], env={"QWEN_DEMO_MAX_MODEL_LEN": "", "QWEN_DEMO_MODEL": ""})
    assert s.max_model_len == 8192
    assert s.model == "Qwen/Qwen3-VL-4B-Instruct"


def test_default_environment_is_os_environ(monkeypatch):
    monkeypatch.setenv("QWEN_DEMO_PORT", "9123")
    monkeypatch.setenv("QWEN_DEMO_SERVED_MODEL_NAME", "from-os-environ")
    s = Settings.from_args([])
    assert s.port == 9123
    assert s.served_model_name == "from-os-environ"


def test_no_trust_remote_code_flag():
    assert Settings.from_args(["--no-trust-remote-code"], env={}).trust_remote_code is False
    assert Settings.from_args(["--trust-remote-code"], env={"QWEN_DEMO_TRUST_REMOTE_CODE": "false"}
                              ).trust_remote_code is True
    assert Settings.from_args(["--no-trust-remote-code"], env={"QWEN_DEMO_TRUST_REMOTE_CODE": "yes"}
                              ).trust_remote_code is False


@pytest.mark.parametrize("raw,expected", [
    ("false", False), ("0", False), ("no", False), ("off", False), ("FALSE", False), (" False ", False),
    ("true", True), ("1", True), ("yes", True), ("on", True), ("Yes", True),
])
def test_boolean_environment_values(raw, expected):
    s = Settings.from_args([], env={"QWEN_DEMO_TRUST_REMOTE_CODE": raw, "QWEN_DEMO_ENFORCE_EAGER": raw})
    assert s.trust_remote_code is expected
    assert s.enforce_eager is expected


def exits_with_usage_error(argv, env, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        Settings.from_args(argv, env=env)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv,env,mentions", [
    (["--model-source", "github"], {}, "--model-source"),
    (["--video-via", "gpu"], {}, "--video-via"),
    ([], {"QWEN_DEMO_MODEL_SOURCE": "github"}, "QWEN_DEMO_MODEL_SOURCE"),
    ([], {"QWEN_DEMO_VIDEO_VIA": "Worker"}, "QWEN_DEMO_VIDEO_VIA"),
])
def test_literal_choices_are_enforced(argv, env, mentions, capsys):
    err = exits_with_usage_error(argv, env, capsys)
    assert mentions in err


@pytest.mark.parametrize("argv,env,mentions", [
    (["--gpu-memory-utilization", "1.5"], {}, "--gpu-memory-utilization"),
    (["--gpu-memory-utilization", "0"], {}, "--gpu-memory-utilization"),
    ([], {"QWEN_DEMO_GPU_MEMORY_UTILIZATION": "1.5"}, "--gpu-memory-utilization"),
    (["--video-gpu-memory-utilization", "1.01"], {}, "--video-gpu-memory-utilization"),
    (["--video-max-tokens", "8192"], {}, "--video-max-tokens"),
    (["--video-max-tokens", "9000"], {}, "--video-max-tokens"),
    (["--max-model-len", "1024"], {}, "--video-max-tokens"),  # default video_max_tokens 1024 >= 1024
    ([], {"QWEN_DEMO_MAX_MODEL_LEN": "512"}, "--video-max-tokens"),
    (["--max-model-len", "0"], {}, "--max-model-len"),
    (["--tensor-parallel-size", "0"], {}, "--tensor-parallel-size"),
    (["--cpu-kv-cache-gib", "0"], {}, "--cpu-kv-cache-gib"),
    (["--concurrency-limit", "0"], {}, "--concurrency-limit"),
    ([], {"QWEN_DEMO_MAX_QUEUE_SIZE": "0"}, "--max-queue-size"),
    (["--max-file-size-mb", "-1"], {}, "--max-file-size-mb"),
    (["--port", "70000"], {}, "--port"),
    (["--app-port", "-1"], {}, "--app-port"),
    (["--max-model-len", "lots"], {}, "--max-model-len"),
    ([], {"QWEN_DEMO_PORT": "eighty"}, "QWEN_DEMO_PORT"),
    ([], {"QWEN_DEMO_SHARE": "maybe"}, "QWEN_DEMO_SHARE"),
])
def test_invalid_values_are_rejected(argv, env, mentions, capsys):
    err = exits_with_usage_error(argv, env, capsys)
    assert mentions in err


def test_boundary_values_are_accepted():
    s = Settings.from_args(["--gpu-memory-utilization", "1", "--video-max-tokens", "8191", "--port", "0"], env={})
    assert (s.gpu_memory_utilization, s.video_max_tokens, s.port) == (1.0, 8191, 0)


def test_problems_lists_every_bad_value():
    s = Settings(gpu_memory_utilization=1.5, video_max_tokens=9000, port=-5)
    problems = " ".join(s.problems())
    for name in ("--gpu-memory-utilization", "--video-max-tokens", "--port"):
        assert name in problems


def test_describe_hides_api_key_and_lists_every_field():
    secret = "sk-very-secret-value-123"
    s = Settings.from_args(["--api-key", secret, "--api-base", "http://h:1"], env={})
    text = s.describe()
    assert secret not in text
    assert "(set)" in text
    for name in FIELDS:
        assert name in text
    assert "http://h:1" in text


def test_describe_without_api_key():
    text = Settings.from_args([], env={}).describe()
    assert "(set)" not in text
    assert "Qwen/Qwen3-VL-4B-Instruct" in text


def test_every_field_has_a_flag():
    parser = build_parser()
    options = {opt for action in parser._actions for opt in action.option_strings}
    for name in FIELDS:
        assert flag(name) in options, name
        if name in BOOL_FIELDS:
            assert "--no-" + name.replace("_", "-") in options, name
    dests = {action.dest for action in parser._actions}
    assert set(FIELDS) <= dests


def test_help_text_renders_and_names_the_environment_variables():
    text = build_parser().format_help()
    for f in dataclasses.fields(Settings):
        assert env_name(f) in text


def test_settings_are_frozen():
    s = Settings.from_args([], env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]

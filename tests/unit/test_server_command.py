"""demo/engines/server.py without a server: the vLLM command line, port choice, endpoint and key (never started)."""

from __future__ import annotations

import json
import socket
import sys

import pytest

from demo.engines.placement import Placement
from demo.engines.server import (
    SERVER_MODULE,
    AttachedServer,
    ServerEndpoint,
    ServerSupervisor,
    choose_port,
    free_port,
    port_is_free,
    server_command,
    server_key,
)
from demo.settings import Settings

SEED_FLAGS = {"--served-model-name", "--max-model-len", "--tensor-parallel-size", "--port", "--trust-remote-code",
              "--gpu-memory-utilization"}
# What the app adds to the seed's command: the checkpoint folder, the loopback host, no fetching of URLs, and
# the per-request frame timing of video through the server (the app is the server's only client).
APP_FLAGS = {"--model", "--host", "--allowed-media-domains", "--trust-request-mm-kwargs", "--structured-outputs-config",
             "--enable-prompt-tokens-details"}


def settings(*argv: str) -> Settings:
    return Settings.from_args(list(argv), env={})


def parse_flags(cmd: list[str]) -> dict[str, str | bool]:
    """The ``--flag value`` / ``--switch`` pairs after ``-m module``; every flag must appear once."""
    assert cmd[:3] == [sys.executable, "-m", SERVER_MODULE]
    out: dict[str, str | bool] = {}
    rest = cmd[3:]
    i = 0
    while i < len(rest):
        token = rest[i]
        assert token.startswith("--"), f"stray argument {token!r} in {cmd}"
        assert token not in out, f"{token} given twice"
        if i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            out[token] = rest[i + 1]
            i += 2
        else:
            out[token] = True
            i += 1
    return out


GPU0 = Placement("cuda", (0,), 1, 0.9)


def test_command_is_the_seeds_with_settings_values():
    cmd = server_command(settings(), "/models/Qwen3-VL-4B-Instruct", GPU0, 8085)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert " ".join(cmd).count("-m vllm.entrypoints.openai.api_server") == 1
    flags = parse_flags(cmd)
    assert set(flags) == SEED_FLAGS | APP_FLAGS
    assert flags["--model"] == "/models/Qwen3-VL-4B-Instruct"
    assert flags["--served-model-name"] == "Qwen3-VL-4B-Instruct"
    assert flags["--max-model-len"] == "8192"
    assert flags["--tensor-parallel-size"] == "1"
    assert flags["--port"] == "8085"
    assert flags["--trust-remote-code"] is True
    assert flags["--gpu-memory-utilization"] == "0.9"
    assert flags["--host"] == "127.0.0.1"
    # answers held to a JSON schema: xgrammar, compact (whitespace is an engine setting in vLLM 0.32)
    assert json.loads(flags["--structured-outputs-config"]) == {"backend": "xgrammar", "disable_any_whitespace": True}


def test_command_follows_changed_settings():
    s = settings("--served-model-name", "my-qwen", "--max-model-len", "16384", "--tensor-parallel-size", "2",
                 "--gpu-memory-utilization", "0.8")
    cmd = server_command(s, "/m", Placement("cuda", (0, 1), 2, None), 9100)
    flags = parse_flags(cmd)
    assert flags["--served-model-name"] == "my-qwen"
    assert flags["--max-model-len"] == "16384"
    assert flags["--tensor-parallel-size"] == "2"
    assert flags["--port"] == "9100"
    assert flags["--gpu-memory-utilization"] == "0.8"  # no fraction in the placement: the setting's


def test_placement_fraction_wins_over_the_setting():
    flags = parse_flags(server_command(settings(), "/m", Placement("cuda", (0,), 1, 0.53), 8085))
    assert flags["--gpu-memory-utilization"] == "0.53"


def test_cpu_placement_uses_the_settings_fraction():
    flags = parse_flags(server_command(settings(), "/m", Placement("cpu", cpu_kv_cache_gib=4), 8085))
    assert flags["--gpu-memory-utilization"] == "0.9"
    assert flags["--tensor-parallel-size"] == "1"


def test_no_api_key_on_the_command_line():
    s = settings("--api-key", "sk-should-never-appear")
    cmd = server_command(s, "/m", GPU0, 8085)
    assert "--api-key" not in cmd
    assert not any("sk-should-never-appear" in part for part in cmd)


def test_enforce_eager_only_when_the_plan_says_so():
    assert "--enforce-eager" not in server_command(settings(), "/m", GPU0, 8085)
    eager = Placement("cuda", (0,), 1, 0.9, enforce_eager=True)
    flags = parse_flags(server_command(settings(), "/m", eager, 8085))
    assert flags["--enforce-eager"] is True
    assert set(flags) == SEED_FLAGS | APP_FLAGS | {"--enforce-eager"}


def test_no_trust_remote_code():
    cmd = server_command(settings("--no-trust-remote-code"), "/m", GPU0, 8085)
    assert "--trust-remote-code" not in cmd
    assert set(parse_flags(cmd)) == (SEED_FLAGS - {"--trust-remote-code"}) | APP_FLAGS


def test_reasoning_parser_only_for_a_thinking_model():
    assert "--reasoning-parser" not in server_command(settings(), "/m", GPU0, 8085)
    assert "--reasoning-parser" not in server_command(settings(), "/m", GPU0, 8085, reasoning_parser=None)
    flags = parse_flags(server_command(settings(), "/m", GPU0, 8085, reasoning_parser="qwen3"))
    assert flags["--reasoning-parser"] == "qwen3"
    assert set(flags) == SEED_FLAGS | APP_FLAGS | {"--reasoning-parser"}


def test_reasoning_parser_is_optional():
    """A vLLM without the flag starts without it (the log says what is lost); one with it keeps it."""
    base = frozenset(SEED_FLAGS | APP_FLAGS)
    cmd = server_command(settings(), "/m", GPU0, 8085, base, reasoning_parser="qwen3")
    assert "--reasoning-parser" not in cmd and "qwen3" not in cmd
    cmd = server_command(settings(), "/m", GPU0, 8085, base | {"--reasoning-parser"}, reasoning_parser="qwen3")
    assert parse_flags(cmd)["--reasoning-parser"] == "qwen3"


def test_supervisor_passes_the_parser_on(tmp_path):
    sup = ServerSupervisor(settings("--cache-dir", str(tmp_path), "--port", "0"), "/m", GPU0, tmp_path,
                           reasoning_parser="qwen3")
    assert parse_flags(sup.command)["--reasoning-parser"] == "qwen3"


# --- ports --------------------------------------------------------------------------------------------------

@pytest.fixture
def bound_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_choose_port_keeps_a_free_port():
    port = free_port()
    assert port_is_free(port)
    assert choose_port(port) == port


def test_choose_port_avoids_a_bound_port(bound_port):
    assert not port_is_free(bound_port)
    chosen = choose_port(bound_port)
    assert chosen != bound_port
    assert 0 < chosen < 65536


def test_choose_port_zero_means_any():
    chosen = choose_port(0)
    assert 0 < chosen < 65536


# --- the supervisor, constructed only -----------------------------------------------------------------------

def test_supervisor_endpoint_is_loopback_with_a_random_key(tmp_path):
    s = settings("--port", str(free_port()), "--cache-dir", str(tmp_path / "one"))
    a = ServerSupervisor(s, "/x", GPU0, tmp_path)
    b = ServerSupervisor(settings("--port", "0", "--cache-dir", str(tmp_path / "two")), "/x", GPU0, tmp_path)
    assert a.endpoint.base_url == f"http://127.0.0.1:{a.port}/v1"
    assert a.endpoint.root == f"http://127.0.0.1:{a.port}"
    assert a.endpoint.model == "Qwen3-VL-4B-Instruct"
    assert len(a.endpoint.api_key) >= 20
    assert a.endpoint.api_key != b.endpoint.api_key
    assert a.log_path == tmp_path / "vllm-server.log"
    assert a.pid is None
    assert a.status.get().state == "stopped"
    flags = parse_flags(a.command)
    assert flags["--port"] == str(a.port)
    assert flags["--model"] == "/x"
    assert a.endpoint.api_key not in " ".join(a.command)


def test_the_key_is_kept_per_cache_folder_readable_by_its_owner_only(tmp_path):
    """The same key at every start (vLLM 0.26 hashed it into its compile cache's key), random per folder."""
    first = server_key(tmp_path / "a")
    assert len(first) == 48 and int(first, 16) >= 0
    assert server_key(tmp_path / "a") == first
    assert server_key(tmp_path / "b") != first
    key_file = tmp_path / "a" / "server-api-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.chmod(0o644)  # a key others could read is not reused
    assert server_key(tmp_path / "a") != first
    key_file.write_text("-starts-with-a-dash")
    assert server_key(tmp_path / "a") not in ("-starts-with-a-dash", first)


def test_supervisor_key_and_devices_go_through_the_environment(tmp_path):
    placement = Placement("cuda", (1,), 1, 0.5)
    sup = ServerSupervisor(settings("--port", "0"), "/x", placement, tmp_path)
    env = sup.launch_env()
    assert env["VLLM_API_KEY"] == sup.endpoint.api_key
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    cpu = ServerSupervisor(settings("--port", "0"), "/x", Placement("cpu", cpu_kv_cache_gib=3), tmp_path)
    assert cpu.launch_env()["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert cpu.launch_env()["CUDA_VISIBLE_DEVICES"] == ""


def test_supervisor_moves_off_a_taken_port(tmp_path, bound_port):
    sup = ServerSupervisor(settings("--port", str(bound_port)), "/x", GPU0, tmp_path)
    assert sup.port != bound_port
    assert sup.endpoint.base_url == f"http://127.0.0.1:{sup.port}/v1"
    assert parse_flags(sup.command)["--port"] == str(sup.port)


@pytest.mark.parametrize("base,expected", [
    ("http://host:8000", "http://host:8000/v1"),
    ("http://host:8000/", "http://host:8000/v1"),
    ("http://host:8000/v1", "http://host:8000/v1"),
    ("http://host:8000/v1/", "http://host:8000/v1"),
])
def test_attached_server_endpoint(base, expected):
    att = AttachedServer(settings("--api-base", base))
    assert att.endpoint.base_url == expected
    assert att.endpoint.root == "http://host:8000"
    assert att.endpoint.api_key == "EMPTY"
    assert AttachedServer(settings("--api-base", base, "--api-key", "k")).endpoint.api_key == "k"


def test_endpoint_root():
    assert ServerEndpoint("http://127.0.0.1:1234/v1", "k", "m").root == "http://127.0.0.1:1234"
    assert ServerEndpoint("http://127.0.0.1:1234/v1/", "k", "m").root == "http://127.0.0.1:1234"

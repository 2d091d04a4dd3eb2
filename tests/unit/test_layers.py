"""The code's shape, checked: imports point down the layers (docs/how-it-runs.md), no two modules import each other
(directly or around a circle, at the top or inside a function), and every module imports alone, first, in a
fresh interpreter as far as the project's own modules go."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("demo", "bench")

# demo's layers, lowest first: a module may import its own layer and the layers below it, never one above.
RANKS = {
    "errors": 0, "settings": 0, "stored_secret": 0, "heap": 0, "lockfile": 0, "cuda_driver": 0,
    "cpu_torchvision_fix": 0,
    "inputs": 1,
    "engines": 2, "outputs": 2,
    "ui": 3, "plan": 3,
    "fleet": 4,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports anywhere in its text (a name imported from a package counts as
    its submodule where one has that name)."""
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name].update(t for t in targets if t in known and t != name)
    return graph


def layer(module: str) -> str:
    return module.split(".")[1] if module.startswith("demo.") else module


def test_imports_point_down_the_layers():
    layers = {layer(m) for m in modules() if m.startswith("demo.")}
    assert layers <= set(RANKS), f"a new layer needs its place in RANKS: {layers - set(RANKS)}"
    upward = sorted(f"{src} -> {dst}" for src, dsts in import_graph().items() if src.startswith("demo.")
                    for dst in dsts if dst.startswith("demo.") and RANKS[layer(dst)] > RANKS[layer(src)])
    assert not upward, upward


def test_no_engine_back_end_module_imports_gradio():
    """STYLE.md: the back end knows nothing of the UI; only demo/ui (and the fleet, which serves pages) import it."""
    offenders = []
    for name, path in modules().items():
        if name.startswith("demo.") and layer(name) not in ("ui", "fleet"):
            for node in ast.walk(ast.parse(path.read_text())):
                imported = ([a.name for a in node.names] if isinstance(node, ast.Import)
                            else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [name for i in imported if i.split(".")[0] == "gradio"]
    assert not offenders, offenders


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_two_modules_import_each_other():
    assert circles(import_graph()) == []


# Each module imported first, in a child forked from a parent that has only the third-party libraries loaded:
# a circle through a package's __init__ or a name read before it is defined fails there, whatever order the app's
# own imports happen to take. The heavy libraries are loaded once, so that this takes seconds, not minutes.
ALONE = """
import importlib, os, sys, traceback
sys.path.insert(0, os.getcwd())
for lib in ("gradio", "openai", "numpy", "PIL.Image", "cv2", "pydantic", "aiohttp", "psutil", "httpx"):
    importlib.import_module(lib)
failed = []
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            importlib.import_module(name)
            code = 0
        except BaseException:
            os.write(w, traceback.format_exc(limit=3).encode()[-2000:])
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as out:
        text = out.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if status:
        failed.append(name + ": " + text)
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone():
    names = [m for m in modules() if not m.endswith("__main__")]
    done = subprocess.run([sys.executable, "-c", ALONE, *names], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]

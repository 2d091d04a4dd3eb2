"""demo/cpu_torchvision_fix.py: torchvision imports and works in fresh interpreters of this environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(sysconfig.get_paths()["purelib"])


def run(*args: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_torchvision_imports_and_resizes_through_the_installed_hook():
    code = (
        "import torch, torchvision\n"
        "from torchvision.transforms.v2 import functional as F\n"
        "out = F.resize(torch.rand(3, 40, 60), [20, 30], antialias=True)\n"
        "print(tuple(out.shape), hasattr(torch.ops.torchvision, 'nms'))\n"
    )
    proc = run(code=code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "(3, 20, 30) True"


def test_the_installed_hook_is_this_module():
    installed = SITE / "qwen_demo_cpu_torchvision_fix.py"
    pth = SITE / "qwen_demo_cpu_torchvision_fix.pth"
    assert installed.read_text() == (ROOT / "demo" / "cpu_torchvision_fix.py").read_text()
    assert "install()" in pth.read_text()


def test_install_declares_the_ops_lazily_without_the_pth_file():
    # -S: no site-packages processing, so the .pth hook does not run; the repository's module is used instead.
    code = (
        "import sys\n"
        f"sys.path += [{str(SITE)!r}, {str(ROOT)!r}]\n"
        "from demo import cpu_torchvision_fix as fix\n"
        "fix.install(); fix.install()\n"
        "finders = [f for f in sys.meta_path if isinstance(f, fix._Finder)]\n"
        "print(len(finders), sys.meta_path[0] is finders[0], fix._LIBRARY is None)\n"
        "import torch, torchvision\n"
        "from torchvision.transforms.v2 import functional as F\n"
        "print(type(fix._LIBRARY).__name__, any(isinstance(f, fix._Finder) for f in sys.meta_path))\n"
        "print(tuple(F.resize(torch.rand(3, 8, 8), [4, 4], antialias=True).shape))\n"
        "fix.install()\n"
        "print(any(isinstance(f, fix._Finder) for f in sys.meta_path))\n"
    )
    proc = run("-S", code=code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["1 True True", "Library False", "(3, 4, 4)", "False"]

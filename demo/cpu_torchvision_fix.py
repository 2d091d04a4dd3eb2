"""Make PyPI's CUDA-built torchvision importable on CPU-only torch.

PyPI's ``torchvision==0.28.0`` is built against CUDA torch; on ``torch+cpu`` its ``_C.so`` cannot load and
``import torchvision`` dies with "operator torchvision::nms does not exist", because its
``_meta_registrations.py`` registers fake kernels for ``nms``/``qnms`` without checking the ops exist
(shared/TESTBED.md). transformers needs torchvision for the Qwen3-VL image and video processors, and vLLM
builds them in every process (API server, EngineCore, workers, our video worker).

``scripts/setup_env.sh`` copies this file into the CPU environment's site-packages and adds a ``.pth`` line
that calls :func:`install`. The hook is lazy: it costs nothing until something imports torchvision, and then
declares the two op schemas (on a ``torch.library.Library`` that stays alive: a garbage-collected one does
not work) just before torchvision's own import runs. It is a no-op on CUDA builds of torch.
"""

import importlib.abc
import sys

_LIBRARY = None  # kept alive for the life of the process: the schemas vanish with it


def _declare_ops() -> None:
    global _LIBRARY
    if _LIBRARY is not None:
        return
    import torch

    if torch.version.cuda is not None:  # a CUDA torch loads torchvision's own kernels
        _LIBRARY = False
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold, float scale, int zero_point) -> Tensor")
    _LIBRARY = lib


class _Finder(importlib.abc.MetaPathFinder):
    """Runs :func:`_declare_ops` the first time ``torchvision`` is looked up, then steps aside."""

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path.remove(self)
            try:
                _declare_ops()
            except Exception as exc:  # never break interpreter start-up; the import will say what is wrong
                print(f"cpu_torchvision_fix: could not declare torchvision ops: {exc}", file=sys.stderr)
        return None


def install() -> None:
    """Put the lazy finder first on ``sys.meta_path`` (idempotent)."""
    if "torchvision" in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())

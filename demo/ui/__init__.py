"""The web page: small builders per tab (the only modules that import Gradio), assembled by ``build_demo``."""

from .page import build_demo, launch_kwargs

__all__ = ["build_demo", "launch_kwargs"]

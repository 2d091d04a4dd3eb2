"""Benchmarks of the app's own costs on the tiny checkpoint: ``python -m bench`` writes ``bench/RESULTS.md``.

Five figures, measured side by side in one run (see ``bench/__main__.py``): streaming overhead against the
openai SDK and against Gradio's own floor, concurrency, video preparation, image preparation and start-up.
Every figure is a median with its spread over repeated, interleaved trials; the report sets each against its
goal. The test suite only runs the harness on a tiny setting (``--quick``); it never checks a figure.
"""

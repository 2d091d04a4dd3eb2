"""The back end: the vLLM server and the video worker, and what the page asks of them. Nothing here imports Gradio.

``engines.Engines`` is the one object the page uses (start, stop, status, answers); ``params`` holds the settings
of one answer (``GenerationParams``, ``VideoSampling``). This file imports nothing, so that a light module
(``params``, ``video_events``, ``placement``) is imported without the OpenAI SDK and the engines' machinery.
"""

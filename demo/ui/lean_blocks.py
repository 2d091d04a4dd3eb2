"""Gradio Blocks that do not rebuild a component for an output an event leaves alone (issue 30).

A handler that returns a dict of some of its outputs (as every step of this page does: the answer's updates
name the chat box and the state, not the eight other outputs of the same event) leaves the others to Gradio as
``gr.skip()``. Gradio 6.31 treats a skip as a property update with no properties: for each one it constructs the
component again from its constructor arguments and stores the copy in the session (``Blocks.postprocess_data``),
only to send ``{"__type__": "update"}`` to the browser. That is 0.2-0.5 ms per skipped output (a Chatbot, a
Textbox, a Code block, timed here), six to eight per update of an answer: with 64 visitors on an H200 it was the
largest single share of the app's event loop (``Component.__init__`` under ``postprocess_data``, py-spy,
``bench/RESULTS-crowd.md``). :class:`LeanBlocks` hands Gradio only the outputs that change and answers the
skipped ones itself with what Gradio would have sent; everything else (postprocessing, files, the session) is
Gradio's own code.
"""

from __future__ import annotations

from copy import copy
from typing import Any

import gradio as gr
from gradio.blocks import Block

SKIPPED = "update"  # Gradio's ``__type__`` of a property update; with no other key it is ``gr.skip()``


def is_skip(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and value.get("__type__") == SKIPPED


class LeanBlocks(gr.Blocks):
    """``gr.Blocks`` whose events send a skipped output's update without constructing the component again."""

    async def postprocess_data(self, block_fn, predictions, state) -> list[Any]:
        outputs = list(block_fn.outputs)
        if block_fn.batch or len(outputs) < 2 or not isinstance(predictions, dict) or not predictions \
                or not all(isinstance(key, Block) for key in predictions):
            return await super().postprocess_data(block_fn, predictions, state)
        by_id = {key._id: value for key, value in predictions.items()}
        if not by_id.keys() <= {block._id for block in outputs}:  # a stale component: Gradio matches it by key
            return await super().postprocess_data(block_fn, predictions, state)
        changed = [i for i, block in enumerate(outputs) if block._id in by_id and not is_skip(by_id[block._id])]
        if len(changed) == len(outputs):
            return await super().postprocess_data(block_fn, predictions, state)
        done: list[Any] = []
        if changed:
            some = copy(block_fn)  # the same event, with only the outputs that change
            some.outputs = [outputs[i] for i in changed]
            values = [by_id[outputs[i]._id] for i in changed]
            done = await super().postprocess_data(some, values if len(values) > 1 else values[0], state)
        results, changing = iter(done), set(changed)
        # what Gradio sends for a skip: nothing for a gr.State (it stays on the server), an empty update otherwise
        return [next(results) if i in changing else (None if block.stateful else {"__type__": SKIPPED})
                for i, block in enumerate(outputs)]

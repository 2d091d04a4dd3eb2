"""A page parsed by Qwen3-VL: its "QwenVL HTML" read into layout blocks, the blocks rendered safely, and the JSON
schema the page asks for when the free-form answer cannot be read. Pure: no Gradio, no engine.

Asked "qwenvl html", Qwen3-VL answers a page as HTML whose elements carry ``data-bbox="x1 y1 x2 y2"``, relative
to the page on the 0-1000 scale of its grounding (QwenLM/Qwen3-VL, cookbooks/document_parsing.ipynb), e.g.
``<h1 data-bbox="80 40 920 90">Title</h1>``, ``<p data-bbox=...>``, ``<div class="image" data-bbox=...>``,
``<table data-bbox=...><tr><td>...``. :func:`parse_html` reads that with the standard library's HTML parser, which
takes broken HTML (unclosed tags, stray ends) without raising, into :class:`Block` items; :func:`render_blocks`
builds the page's view from those blocks alone, every text escaped and only a fixed set of tags written by us: no
markup of the model's (a ``<script>``, an ``onerror``, an ``<img src>`` that calls home) ever reaches the browser.

When the answer holds no block (random weights, a cut answer, prose), the page asks again held to
:func:`schema` (vLLM's structured outputs): a list of ``{"category", "bbox_2d", "text"}``, read by
:func:`parse_json`, which keeps every complete entry of an answer cut by max_tokens.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from html.parser import HTMLParser

from ..inputs import grounding
from ..inputs.grounding import SCALE, Found
from .boxes import PALETTE

MAX_BLOCKS = 60  # blocks kept of one page (a dense page has about 40)
MAX_BLOCK_TEXT = 4000  # characters kept of one block's text
SCHEMA_TEXT = 300  # characters of a block's text in the schema's answer (a paragraph; keeps a weak model's short)
SCHEMA_BLOCKS = 40
MAX_INPUT = 200_000  # characters of an answer read at all
# The cookbook's categories (HTML tags and the class of a <div>), the schema's choices and the view's names.
CATEGORIES = ("title", "heading", "text", "list", "table", "image", "chart", "formula", "code", "caption",
              "header", "footer", "page_number", "footnote", "other")
_TAG_CATEGORY = {"h1": "title", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading",
                 "h6": "heading", "p": "text", "ul": "list", "ol": "list", "li": "list", "table": "table",
                 "img": "image", "figure": "image", "pre": "code", "code": "code", "math": "formula",
                 "header": "header", "footer": "footer", "figcaption": "caption", "caption": "caption",
                 "blockquote": "text", "address": "text", "section": "text", "div": "text", "span": "text"}
_CLASS_CATEGORY = {"image": "image", "figure": "image", "picture": "image", "chart": "chart", "formula": "formula",
                   "equation": "formula", "code": "code", "caption": "caption", "header": "header",
                   "footer": "footer", "page_number": "page_number", "page-number": "page_number",
                   "footnote": "footnote", "title": "title", "table": "table", "list": "list"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "track", "wbr"}
_SKIPPED = {"script", "style", "head", "title", "template", "noscript", "iframe", "object"}  # text not kept


@dataclass(frozen=True)
class Block:
    """One layout element of a page: its category, box (x1, y1, x2, y2 on 0-1000) and text; a table's cells too."""

    category: str
    box: tuple[int, int, int, int]
    text: str
    rows: tuple[tuple[str, ...], ...] = ()  # a table's cells, row by row
    level: int = 0  # a heading's level (1-6); 0 otherwise

    def as_json(self) -> dict:
        out = {"category": self.category, "bbox_2d": list(self.box), "text": self.text}
        if self.rows:
            out["rows"] = [list(r) for r in self.rows]
        return out


def _box(value) -> tuple[int, int, int, int] | None:
    """A ``data-bbox`` (four numbers, spaces or commas) or a ``bbox_2d`` list as a box on 0-1000; None otherwise."""
    if isinstance(value, str):
        words = value.replace(",", " ").split()
        if len(words) != 4 or any(len(w) > 12 for w in words):
            return None
        try:
            value = [float(w) for w in words]
        except ValueError:
            return None
    found = grounding._found({"bbox_2d": value}) if isinstance(value, (list, tuple)) else None
    if found is None or found.box is None:
        return None
    return found.box  # (a box of no width or height is kept: drawn as a line, it still says where the block is)


def _text(pieces: list[str]) -> str:
    return " ".join(" ".join(pieces).split())[:MAX_BLOCK_TEXT]


def category_of(tag: str, classes: str) -> str:
    for name in classes.lower().split():
        if name in _CLASS_CATEGORY:
            return _CLASS_CATEGORY[name]
    return _TAG_CATEGORY.get(tag, "other")


class _Reader(HTMLParser):
    """Collects the outermost elements that carry a ``data-bbox``, with their text and a table's cells."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.stack: list[str] = []  # open tags, to know when the block's own element closes
        self.block: dict | None = None  # the block being read
        self.skip = 0  # depth inside <script>, <style>, ...
        self.cell: int | None = None  # the stack's depth inside the table cell being read

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            if tag == "br" and self.block is not None:
                self.block["pieces"].append("\n")
            elif tag == "img" and self.block is None:
                self._start(tag, dict(attrs), void=True)
            return
        self.stack.append(tag)
        if tag in _SKIPPED:
            self.skip += 1
            return
        if self.block is None:
            self._start(tag, dict(attrs))
        elif tag == "tr":  # a new row: a cell left open in the last one (<td>a<tr>) is closed with it
            self.block["rows"].append([])
            self.cell = None
        elif tag in ("td", "th"):
            if not self.block["rows"]:
                self.block["rows"].append([])
            self.block["rows"][-1].append([])
            self.cell = len(self.stack)
        elif tag in ("li", "p", "div") and self.block["pieces"]:
            self.block["pieces"].append("\n")

    def _start(self, tag: str, attrs: dict, void: bool = False) -> None:
        box = _box(attrs.get("data-bbox") or "")
        if box is None or len(self.blocks) >= MAX_BLOCKS:
            return
        level = int(tag[1]) if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" else 0
        category = category_of(tag, attrs.get("class") or "")
        if void:
            self.blocks.append(Block(category, box, ""))
            return
        self.block = {"category": category, "box": box, "pieces": [], "rows": [], "level": level,
                      "depth": len(self.stack)}

    def handle_endtag(self, tag):
        if tag in _VOID or tag not in self.stack:
            return  # a stray end tag: ignored, as browsers do
        while self.stack:  # unclosed inner elements close with it (<p><b>text</p>)
            open_tag = self.stack.pop()
            if open_tag in _SKIPPED:
                self.skip = max(0, self.skip - 1)
            if self.cell is not None and len(self.stack) < self.cell:
                self.cell = None
            if self.block is not None and len(self.stack) < self.block["depth"]:
                self._finish()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.skip or self.block is None:
            return
        self.block["pieces"].append(data)
        if self.cell is not None and self.block["rows"] and self.block["rows"][-1]:
            self.block["rows"][-1][-1].append(data)

    def _finish(self) -> None:
        b, self.block, self.cell = self.block, None, None
        if b is None:
            return
        text = "\n".join(_text(line.split("\n")) for line in "".join(b["pieces"]).split("\n"))
        text = "\n".join(line for line in text.split("\n") if line)[:MAX_BLOCK_TEXT]
        rows = tuple(tuple(_text(cell) for cell in row) for row in b["rows"] if row)
        if rows and b["category"] == "table":
            text = "\n".join(" | ".join(row) for row in rows)[:MAX_BLOCK_TEXT]
        self.blocks.append(Block(b["category"], b["box"], text, rows if b["category"] == "table" else (),
                                 b["level"]))

    def close(self):
        super().close()
        if self.block is not None:  # an answer cut in the middle of a block keeps what it has
            self._finish()


def parse_html(text) -> list[Block]:
    """The blocks of a QwenVL HTML answer (fenced or not, broken or not), in the answer's order; never raises."""
    if not isinstance(text, str):
        return []
    reader = _Reader()
    try:
        reader.feed(text[:MAX_INPUT])
        reader.close()
    except (AssertionError, ValueError, IndexError):  # (the stdlib parser's rare complaints on garbage)
        pass
    return reader.blocks[:MAX_BLOCKS]


def schema() -> dict:
    """JSON schema of a page's layout, for vLLM's structured outputs (plain keywords only, for xgrammar)."""
    coords = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": SCALE},
              "minItems": 4, "maxItems": 4}
    entry = {"type": "object",
             "properties": {"category": {"type": "string", "enum": list(CATEGORIES)}, "bbox_2d": coords,
                            "text": {"type": "string", "maxLength": SCHEMA_TEXT}},
             "required": ["category", "bbox_2d", "text"], "additionalProperties": False}
    # At least one: the page always has something to draw (as Find's schema).
    return {"type": "array", "items": entry, "minItems": 1, "maxItems": SCHEMA_BLOCKS}


PARSE_PROMPT = "qwenvl html"  # the cookbook's request for a page in QwenVL HTML
SCHEMA_PROMPT = ("Parse the layout of this document page. Answer in JSON: a list of the page's blocks in reading "
                 'order, [{"category": one of ' + ", ".join(CATEGORIES) + ', "bbox_2d": [x1, y1, x2, y2] on a '
                 '0-1000 scale of the page, "text": "the block\'s text"}].')


def _scan_objects(text: str):
    """Every complete top-level-or-nested ``{...}`` span of ``text`` read as JSON objects, in order (strings with
    braces inside them are skipped over)."""
    opens: list[int] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"' and opens:
            in_string = True
        elif ch == "{":
            opens.append(i)
        elif ch == "}" and opens:
            start = opens.pop()
            if not opens:  # an entry of the list: the schema's objects hold no object
                value = grounding.load_span(text[start:i + 1])
                if isinstance(value, dict):
                    yield value


def parse_json(text) -> list[Block]:
    """The blocks of a schema answer (or any text holding such objects); complete entries of a cut answer kept."""
    if not isinstance(text, str):
        return []
    blocks = []
    for entry in _scan_objects(text[:MAX_INPUT]):
        box = _box(entry.get("bbox_2d"))
        if box is None:
            continue
        category = entry.get("category")
        category = category if category in CATEGORIES else "other"
        body = entry.get("text")
        body = "\n".join(_text([line]) for line in body.split("\n")) if isinstance(body, str) else ""
        blocks.append(Block(category, box, body.strip()))
        if len(blocks) == MAX_BLOCKS:
            break
    return blocks


def as_found(blocks: list[Block]) -> list[Found]:
    """The blocks as boxes for ``demo/outputs/boxes.py``, each labelled with its number and category; the n-th box
    is drawn in ``PALETTE[n % len(PALETTE)]``, the colour :func:`render_blocks` gives the same block."""
    return [Found(f"{i + 1} {b.category}", b.box) for i, b in enumerate(blocks)]


def colour(index: int) -> str:
    r, g, b = PALETTE[index % len(PALETTE)]
    return f"#{r:02x}{g:02x}{b:02x}"


def _lines(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def _body(block: Block) -> str:
    """The block's content as markup built here from escaped text: a heading, a paragraph, a list, a table."""
    if block.category == "table" and block.rows:
        width = max(len(r) for r in block.rows)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "<td></td>" * (width - len(r))
                       + "</tr>" for r in block.rows)
        return f"<table>{rows}</table>"
    if block.category in ("title", "heading"):
        level = min(6, max(2, block.level or (2 if block.category == "title" else 3)))  # h1 is the page's own
        return f"<h{level}>{_lines(block.text)}</h{level}>"
    if block.category == "list":
        items = "".join(f"<li>{html.escape(line)}</li>" for line in block.text.split("\n") if line.strip())
        return f"<ul>{items}</ul>"
    if block.category in ("code", "formula"):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if block.category in ("image", "chart") and not block.text:
        return f"<p class='doc-placeholder'>[{html.escape(block.category)}]</p>"
    return f"<p>{_lines(block.text)}</p>"


def render_blocks(blocks: list[Block]) -> str:
    """HTML for the page's view: each block numbered and edged in its box's colour, its content rebuilt from the
    parsed text (escaped) in a fixed set of tags. Nothing of the model's markup passes through."""
    parts = []
    for i, block in enumerate(blocks):
        x1, y1, x2, y2 = block.box
        parts.append(
            f"<div class='doc-block' data-category='{html.escape(block.category, quote=True)}' "
            f"data-index='{i + 1}' style='border-left-color:{colour(i)}'>"
            f"<span class='doc-block-tag' style='background:{colour(i)}'>{i + 1} "
            f"{html.escape(block.category)}</span>"
            f"<span class='doc-block-box'>{x1} {y1} {x2} {y2}</span>{_body(block)}</div>")
    return "<div class='doc-parsed'>" + "".join(parts) + "</div>"


def as_json(blocks: list[Block]) -> list[dict]:
    return [b.as_json() for b in blocks]


def dumps(blocks: list[Block]) -> str:
    return json.dumps(as_json(blocks), ensure_ascii=False)

"""A page's QwenVL HTML read into blocks, rendered without any of the model's markup, and the schema's answer read
when the free-form one could not be (demo/outputs/doc_parse.py)."""

from __future__ import annotations

import json
import re

from demo.outputs import doc_parse

ANSWER = """```html
<html><body>
<h1 data-bbox="80 40 920 90">Annual <b>report</b></h1>
<p data-bbox="80 100 920 300" onclick="steal()">Costs &amp; gains<br>rose <script>alert(1)</script></p>
<div class="image" data-bbox="100 310 500 600"><img src="http://tracker.example/x.png"></div>
<table data-bbox="80 620 920 900"><tr><th>Year</th><th>Sales</th></tr><tr><td>2025<td>12</tr></table>
<ul data-bbox="80 900 920 990"><li>one</li><li>two <img src=x onerror=alert(2)></li></ul>
<p data-bbox="no box">dropped</p>
<p data-bbox="10 10 20 20">cut in the midd"""


def test_blocks_are_read_in_order_with_category_box_and_text():
    blocks = doc_parse.parse_html(ANSWER)
    assert [b.category for b in blocks] == ["title", "text", "image", "table", "list", "text"]
    assert blocks[0].box == (80, 40, 920, 90) and blocks[0].text == "Annual report"
    assert blocks[1].text == "Costs & gains\nrose"  # the script's text is not kept
    assert blocks[3].rows == (("Year", "Sales"), ("2025", "12"))
    assert blocks[4].text == "one\ntwo"
    assert blocks[5].text == "cut in the midd"  # an answer cut by max_tokens keeps its last block


def test_nothing_of_the_models_markup_reaches_the_page():
    shown = doc_parse.render_blocks(doc_parse.parse_html(ANSWER + '<p data-bbox="1 1 9 9">&lt;script&gt;x</p>'))
    low = shown.lower()
    for bad in ("<script", "onclick", "onerror", "<img", "tracker.example", "steal("):
        assert bad not in low, bad
    assert "&lt;script&gt;x" in shown  # text that looks like markup is shown as text
    assert "<table><tr><td>Year</td>" in shown
    tags = set(re.findall(r"</?([a-zA-Z0-9]+)", shown))
    assert tags <= {"div", "span", "h2", "h3", "p", "br", "table", "tr", "td", "ul", "li", "pre", "code"}, tags


def test_bad_boxes_and_garbage_give_no_block_and_never_raise():
    assert doc_parse.parse_html("random words <p data-bbox='1 2 3'>x</p> </div></table> <<<>>>") == []
    assert doc_parse.parse_html('<p data-bbox="9 5 5 9">a box drawn backwards</p>')[0].box == (5, 5, 9, 9)
    assert doc_parse.parse_html(None) == []
    big = doc_parse.parse_html('<p data-bbox="-50 20 5000 1e9">x</p>')
    assert big[0].box == (0, 20, 1000, 1000)


def test_the_schemas_answer_is_read_and_a_cut_one_keeps_its_complete_entries():
    answer = json.dumps([{"category": "title", "bbox_2d": [10, 10, 900, 60], "text": "A {braced} title"},
                         {"category": "text", "bbox_2d": [10, 80, 900, 400], "text": "Body"}])
    blocks = doc_parse.parse_json(answer[:-30])
    assert [(b.category, b.box, b.text) for b in blocks] == [("title", (10, 10, 900, 60), "A {braced} title")]
    assert len(doc_parse.parse_json(answer)) == 2


def test_the_schema_asks_for_at_least_one_block_of_known_categories():
    s = doc_parse.schema()
    assert s["minItems"] == 1
    item = s["items"]
    assert set(item["required"]) == {"category", "bbox_2d", "text"}
    assert item["properties"]["category"]["enum"] == list(doc_parse.CATEGORIES)
    assert item["properties"]["bbox_2d"]["items"]["maximum"] == 1000


def test_boxes_and_the_view_share_numbers_and_colours():
    blocks = doc_parse.parse_html(ANSWER)
    found = doc_parse.as_found(blocks)
    assert [f.label for f in found][:2] == ["1 title", "2 text"] and found[0].box == blocks[0].box
    shown = doc_parse.render_blocks(blocks)
    assert f"border-left-color:{doc_parse.colour(1)}" in shown and "data-index='2'" in shown


def test_a_row_opened_inside_an_open_cell_loses_no_block():
    # <tr> while a <td> is open, then text (a newline) before the next cell: the row's text had no cell to go to
    blocks = doc_parse.parse_html('<table data-bbox="1 1 500 500"><tr><td>a<td>b\n<tr>\n<td>c</table>'
                                  '<p data-bbox="1 600 500 700">after</p>')
    assert [b.category for b in blocks] == ["table", "text"]
    assert blocks[0].rows == (("a", "b"), ("c",))
    assert blocks[1].text == "after"

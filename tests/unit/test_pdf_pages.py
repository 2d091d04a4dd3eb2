"""PDFs opened safely and pages chosen to fit the context (demo/inputs/pdf_pages.py, doc_budget.py).

``make_pdf`` writes small valid PDFs by hand (text in Helvetica), and the bad ones the Document tab must refuse with
a sentence: encrypted (a standard security handler whose empty password does not open it), truncated, a page bomb,
thousands of pages. The browser and API tests use it too."""

from __future__ import annotations

import math

import pytest

from demo.inputs import doc_budget, pdf_pages
from demo.inputs.pdf_pages import DocumentError


def make_pdf(pages: int = 1, size=(612, 792), lines=("Hello, PDF",), encrypt: bool = False) -> bytes:
    """A PDF of ``pages`` pages of ``size`` points, each showing ``lines``; with ``encrypt`` an /Encrypt dictionary
    whose (random) keys the empty password does not match."""
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    shown = b" ".join(b"(%s) Tj 0 -40 Td" % line.encode() for line in lines)
    text = b"BT /F1 30 Tf 72 %d Td " % (size[1] - 120) + shown + b" ET"
    content = add(b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    first = len(objs) + 1
    parent = first + pages
    for _ in range(pages):
        add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (parent, size[0], size[1], content, font))
    add(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in range(first, parent))
        + b"] /Count %d >>" % pages)
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % parent)
    enc = add(b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>"
              ) if encrypt else None
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objs) + 1, catalog)
    if enc:
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (enc, b"ab" * 16, b"ab" * 16)
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def bad_pdfs(folder) -> dict[str, tuple[str, str]]:
    """name -> (file, the error code it must get)."""
    good = make_pdf(5)
    files = {"encrypted.pdf": (make_pdf(encrypt=True), "pdf_encrypted"),
             "truncated.pdf": (good[:len(good) // 2], "pdf_damaged"),
             "bomb.pdf": (make_pdf(size=(200000, 200000)), "pdf_page_too_large"),
             "long.pdf": (make_pdf(3000), "pdf_too_many_pages"),
             "empty.pdf": (b"", "pdf_empty"),
             "notes.pdf": (b"<html><script>alert(1)</script></html>", "pdf_not_pdf")}
    out = {}
    for name, (data, code) in files.items():
        (folder / name).write_bytes(data)
        out[name] = (str(folder / name), code)
    return out


def test_a_page_is_drawn_with_its_text_and_no_larger_than_asked(tmp_path):
    path = tmp_path / "ok.pdf"
    path.write_bytes(make_pdf(3, lines=("Hello, PDF", "second line")))
    info, drawn = pdf_pages.read_pdf(str(path), [2], 500_000)
    assert info.page_count == 3 and info.sizes[1] == (612.0, 792.0)
    [(number, image)] = drawn
    assert number == 2 and image.width * image.height <= 500_000
    assert abs(image.width / image.height - 612 / 792) < 0.01
    dark = sum(1 for px in image.convert("L").getdata() if px < 128)
    assert dark > 100  # the text is drawn (a blank page would have none)


@pytest.mark.parametrize("name", ["encrypted.pdf", "truncated.pdf", "bomb.pdf", "long.pdf", "empty.pdf",
                                  "notes.pdf"])
def test_bad_pdfs_get_their_sentence(tmp_path, name):
    path, code = bad_pdfs(tmp_path)[name]
    with pytest.raises(DocumentError) as info:
        pdf_pages.read_pdf(path, [1])
    assert info.value.code == code, str(info.value)
    assert "Traceback" not in str(info.value)


def test_the_page_limit_is_said_before_any_page_is_read(tmp_path):
    path = tmp_path / "six.pdf"
    path.write_bytes(make_pdf(6))
    with pytest.raises(DocumentError) as info:
        pdf_pages.read_pdf(str(path), (), max_pages=5)
    assert info.value.fields["pages"] == 6 and info.value.fields["limit"] == 5


def test_a_page_bomb_is_left_out_of_the_strip_and_refused_when_asked():
    pdf_pages.check_page(1, 612, 792)
    with pytest.raises(DocumentError):
        pdf_pages.check_page(1, 200_000, 200_000)
    with pytest.raises(DocumentError):
        pdf_pages.check_page(1, 14_000, 20)  # 700 times longer than wide


def test_a_hung_reader_is_stopped_at_its_deadline(tmp_path):
    path = tmp_path / "many.pdf"
    path.write_bytes(make_pdf(1500))
    with pytest.raises(DocumentError) as info:
        pdf_pages.read_pdf(str(path), list(range(1, 1501)), 4_000_000, timeout=0.5)
    assert info.value.code == "pdf_too_slow"


@pytest.mark.parametrize("spec,pages", [("", (1, 2, 3, 4, 5)), ("all", (1, 2, 3, 4, 5)), ("3", (3,)), (2, (2,)),
                                         ("2-4", (2, 3, 4)), ("1, 4-5, 4", (1, 4, 5))])
def test_pages_specs(spec, pages):
    assert doc_budget.parse_pages(spec, 5) == pages


def test_a_hostile_pages_spec_is_read_at_once_or_refused():
    # each range over every page, as often as 200 characters allow: a list's "not in" made it seconds of work
    spec = ",".join(["1-2000"] * 28)
    assert len(spec) <= doc_budget.SPEC_MAX_CHARS
    assert doc_budget.parse_pages(spec, 2000) == tuple(range(1, 2001))
    for spec in ("1-2000," * 300, ",".join(["1"] * (doc_budget.SPEC_MAX_PARTS + 1))):
        with pytest.raises(DocumentError) as info:
            doc_budget.parse_pages(spec, 2000)
        assert info.value.code == "pdf_pages_too_long"
        assert str(doc_budget.SPEC_MAX_CHARS) in str(info.value) and info.value.sentence("zh") != str(info.value)


@pytest.mark.parametrize("spec", ["0", "6", "4-2", "x", "1-", "2.5", "-3"])
def test_bad_pages_specs_get_a_sentence(spec):
    with pytest.raises(DocumentError) as info:
        doc_budget.parse_pages(spec, 5)
    assert info.value.code == "pdf_bad_pages"


A4 = (595.0, 842.0)


def test_pages_that_fit_go_at_full_size():
    plan = doc_budget.plan_pages((1, 2), (A4,) * 2, 6000)
    assert plan.sent == (1, 2) and plan.max_pixels == doc_budget.PAGE_MAX_TOKENS * 1024 and not plan.dropped
    assert plan.tokens <= 6000


def test_pages_are_made_smaller_before_fewer():
    plan = doc_budget.plan_pages(tuple(range(1, 9)), (A4,) * 8, 6000)
    assert plan.sent == tuple(range(1, 9))  # all of them, smaller: as large as eight fit, above the floor
    assert plan.max_pixels == (6000 // 8 - doc_budget.PAGE_OVERHEAD_TOKENS) * 1024
    assert doc_budget.PAGE_MIN_TOKENS * 1024 < plan.max_pixels < doc_budget.PAGE_MAX_TOKENS * 1024
    assert plan.tokens <= 6000


def test_then_fewer_evenly_spread_with_the_first_and_last_and_the_person_told():
    plan = doc_budget.plan_pages(tuple(range(1, 1001)), (A4,) * 1000, 6000)
    assert plan.max_pixels == doc_budget.PAGE_MIN_TOKENS * 1024
    assert 1 < len(plan.sent) < 1000 and plan.sent[0] == 1 and plan.sent[-1] == 1000
    gaps = {b - a for a, b in zip(plan.sent, plan.sent[1:])}
    assert max(gaps) - min(gaps) <= 1
    assert plan.tokens <= 6000
    from demo.ui.document_run import PagesUsed  # (the sentence is the page's, in its language)

    line = PagesUsed(plan, 1000).describe()
    assert "evenly spread" in line and "of 1000" in line and line.startswith("The model read pages 1, ")
    assert "1000" in PagesUsed(plan, 1000).describe("zh") and "evenly" not in PagesUsed(plan, 1000).describe("zh")


def test_no_room_for_a_page_is_a_sentence():
    with pytest.raises(DocumentError) as info:
        doc_budget.plan_pages((1,), (A4,), 100)
    assert info.value.code == "pdf_no_room"


LETTER = (612.0, 792.0)


@pytest.mark.parametrize("context", [8192, 16384, 32768])
@pytest.mark.parametrize("size", [A4, LETTER], ids=["A4", "Letter"])
def test_the_pages_sent_cost_the_server_no_more_than_the_budget(context, size):
    """Each page is drawn (at pdf_pages.render_scale's size), resized by fit_page and sent; the server's processor
    (transformers' smart_resize with Qwen3-VL's limits) keeps that size, and the pages' tokens fit the budget."""
    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    from demo.inputs.images import PROCESSOR_MAX_PIXELS, PROCESSOR_MIN_PIXELS

    budget = doc_budget.page_budget(context, 1024)
    for count in (1, 2, 3, 5, 8, 13, 20, 40, 100):
        plan = doc_budget.plan_pages(tuple(range(1, count + 1)), (size,) * count, budget)
        scale = pdf_pages.render_scale(*size, plan.max_pixels)
        drawn = Image.new("RGB", (math.ceil(size[0] * scale), math.ceil(size[1] * scale)), "white")
        sent = doc_budget.fit_page(drawn, *size, plan.max_pixels)
        h, w = smart_resize(sent.height, sent.width, factor=32, min_pixels=PROCESSOR_MIN_PIXELS,
                            max_pixels=PROCESSOR_MAX_PIXELS)
        assert (w, h) == sent.size  # the server changes nothing
        assert w * h <= plan.max_pixels
        tokens = len(plan.sent) * (w * h // 1024 + doc_budget.PAGE_OVERHEAD_TOKENS)
        assert tokens <= budget, (count, len(plan.sent), tokens, budget)
        assert tokens == plan.tokens  # the estimate is what the server sees

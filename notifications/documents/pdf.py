"""A ``Letter`` laid out as a PDF with reportlab.

PDF/A-friendly choices: the Latin text is set in Bitstream Vera, which reportlab ships and embeds (a subset); the
Chinese text in STSong-Light, reportlab's built-in Adobe CID font, which needs no font file on the machine and keeps
the text extractable (a viewer supplies the glyphs from its Adobe-GB1 collection, as Acrobat and poppler do). The
metadata (title, author, subject, language) is set, and ``invariant`` output leaves out the creation time and random
ids: the same letter gives the same bytes, so its SHA-256 says what was sent.
"""

from __future__ import annotations

import io
import os
import re
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from notifications.documents.content import Letter

LATIN, LATIN_BOLD, CJK = "DocSans", "DocSans-Bold", "STSong-Light"
_registered = False


def _fonts() -> None:
    global _registered
    if _registered:
        return
    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    pdfmetrics.registerFont(TTFont(LATIN, os.path.join(folder, "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(LATIN_BOLD, os.path.join(folder, "VeraBd.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    _registered = True


# Characters Vera has no glyph for: CJK ideographs and punctuation, full-width forms.
_WIDE = re.compile(r"([\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u3000-\u303f]+)")


def _markup(text: str) -> str:
    """Escaped paragraph markup: Latin text in the embedded Latin font, runs of Chinese characters in the CJK font
    (whose Latin glyphs are fewer: it has no middle dot, for one)."""
    return _WIDE.sub(lambda m: f'<font name="{CJK}">{m.group(1)}</font>', escape(text)).replace("\n", "<br/>")


def pdf_build(letter: Letter) -> tuple[bytes, int]:
    """The PDF of ``letter`` and its number of pages."""
    _fonts()
    chinese = letter.language.startswith("zh")
    body_font, bold_font = LATIN, LATIN_BOLD
    base = ParagraphStyle("body", fontName=body_font, fontSize=10.5, leading=15, spaceAfter=6,
                          wordWrap="CJK" if chinese else None)  # fmt: skip
    small = ParagraphStyle(
        "small", parent=base, fontSize=8.5, leading=11, spaceAfter=0, textColor=colors.HexColor("#444444")
    )
    head = ParagraphStyle("head", parent=base, fontName=bold_font, fontSize=15, leading=20, spaceBefore=6)
    heading = ParagraphStyle("heading", parent=base, fontName=bold_font, fontSize=11.5, leading=16, spaceBefore=6)
    lender_style = ParagraphStyle("lender", parent=base, fontName=bold_font, fontSize=14, leading=18, spaceAfter=2)
    # Cal. Civ. Code 1788.11: the licence number in at least 12-point type.
    licence_style = ParagraphStyle("licence", parent=base, fontName=bold_font, fontSize=12, leading=15)

    def para(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(_markup(text), style)

    story: list[Any] = []
    header = [para(letter.lender, lender_style), *[para(line, small) for line in letter.lender_address],
              para(letter.help_phone, small)]  # fmt: skip
    if letter.licence:
        header.append(para(letter.licence, licence_style))
    story.append(KeepTogether(header))
    story.append(Spacer(1, 10 * mm))
    address = ParagraphStyle("to", parent=base, spaceAfter=0)
    story.append(KeepTogether([para(line, address) for line in letter.recipient]))
    story.append(Spacer(1, 8 * mm))
    story += [para(letter.date_line, small), para(letter.reference_line, small), Spacer(1, 4 * mm)]
    story.append(para(letter.title, head))
    width = (LETTER if letter.page_size == "letter" else A4)[0] - 40 * mm
    for kind, value in letter.blocks:
        if kind == "p":
            story.append(para(value))
        elif kind == "h":
            story.append(para(value, heading))
        elif kind == "table":
            story += [_table(value, para, width), Spacer(1, 3 * mm)]
        elif kind == "box":
            rows = [[para(line, heading if i == 0 else base)] for i, line in enumerate(value)]
            box = Table(rows, colWidths=[width])
            frame = [("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("TOPPADDING", (0, 0), (-1, -1), 3),
                     ("LEFTPADDING", (0, 0), (-1, -1), 8)]  # fmt: skip
            box.setStyle(TableStyle(frame))
            story += [Spacer(1, 6 * mm), KeepTogether([box])]
    story += [Spacer(1, 6 * mm), para(letter.closing)]

    pages = {"count": 0}

    footer = ParagraphStyle("footer", parent=small, fontSize=7.5, leading=9)

    def decorate(canvas, doc) -> None:  # type: ignore[no-untyped-def]
        pages["count"] += 1
        text = f"{letter.footer} · {letter.page_label % {'page': doc.page}}"
        line = para(text, footer)
        line.wrapOn(canvas, doc.pagesize[0] - 40 * mm, 20 * mm)
        line.drawOn(canvas, 20 * mm, 10 * mm)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER if letter.page_size == "letter" else A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=22 * mm,
        title=letter.title,
        author=letter.lender,
        subject=letter.reference_line,
        creator=letter.lender,
        lang="zh-CN" if chinese else "en",
        invariant=1,
    )
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue(), pages["count"]


def _table(rows: list[list[str]], para, width: float) -> Table:  # type: ignore[no-untyped-def]
    """A table of text cells; several columns: the first row is a header, amounts right-aligned."""
    columns = len(rows[0])
    cells = [[para(cell) for cell in row] for row in rows]
    widths = [width * 0.62, width * 0.38] if columns == 2 else [width / columns] * columns
    table = Table(cells, colWidths=widths, hAlign="LEFT")
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if columns > 2:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(style))
    return table

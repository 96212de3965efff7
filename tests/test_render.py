"""The rendering module: Markdown -> display documents, asserted by structure (never pixels)."""

from __future__ import annotations

import random
import sys

import pytest
from PySide6.QtGui import QFontInfo, QImage, QTextDocument, QTextTable

from chatbot_gui.ui.render.document import SafeDocument, block_document, plain_document
from chatbot_gui.ui.render.markdown_html import (
    MAX_TABLE_COLUMNS,
    BlockStream,
    guess_language,
    render_blocks,
    split_reasoning,
    tex_readable,
)

pytestmark = pytest.mark.gui


def docs(text: str, theme: str = "light") -> list[QTextDocument]:
    from PySide6.QtGui import QFont

    return [block_document(b, QFont()) for b in render_blocks(text, theme)]


def blocks_of(doc: QTextDocument) -> list:
    out, b = [], doc.begin()
    while b.isValid():
        out.append(b)
        b = b.next()
    return out


def anchors(doc: QTextDocument) -> list[tuple[str, str]]:
    """(text, href) of every link in the document."""
    found = []
    for block in blocks_of(doc):
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.isValid() and frag.charFormat().isAnchor():
                found.append((frag.text(), frag.charFormat().anchorHref()))
            it += 1
    return found


def tables(doc: QTextDocument) -> list[QTextTable]:
    return [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]


def cells(table: QTextTable) -> list[list[str]]:
    out = []
    for r in range(table.rows()):
        row = []
        for c in range(table.columns()):
            cell = table.cellAt(r, c)
            cur = cell.firstCursorPosition()
            cur.setPosition(cell.lastCursorPosition().position(), cur.MoveMode.KeepAnchor)
            row.append(cur.selectedText())
        out.append(row)
    return out


def test_headings_lists_quotes_and_emphasis(qapp) -> None:
    ds = docs("# Title\n\n## Part *one*\n\nSome **bold** and ~~gone~~ text.\n\n- a\n- b\n\n> quoted\n")
    assert [blocks_of(d)[0].blockFormat().headingLevel() for d in ds[:2]] == [1, 2]
    assert ds[0].toPlainText() == "Title"
    assert ds[1].toPlainText() == "Part one"
    para = blocks_of(ds[2])[0]
    formats = {frag.text(): frag.charFormat() for frag in _fragments(para)}
    assert formats["bold"].fontWeight() >= 700
    assert formats["gone"].fontStrikeOut()
    assert [b.text() for b in blocks_of(ds[3])] == ["a", "b"]
    assert blocks_of(ds[3])[0].textList() is not None
    assert ds[4].toPlainText() == "quoted"


def _fragments(block):
    it = block.begin()
    while not it.atEnd():
        yield it.fragment()
        it += 1


def test_table_cells_and_task_lists(qapp) -> None:
    ds = docs("| name | age |\n|:---|---:|\n| Ann | **41** |\n| Bo | 7 |\n\n- [x] done\n- [ ] todo\n")
    (table,) = tables(ds[0])
    assert cells(table) == [["name", "age"], ["Ann", "41"], ["Bo", "7"]]
    assert ds[1].toPlainText() == "☑ done\n☐ todo"
    # the box is the item's marker: no bullet before it (QA saw "• ☐ todo"), as GitHub draws it
    from PySide6.QtGui import QTextListFormat

    styles = {b.textList().format().style() for b in blocks_of(ds[1])}
    assert styles == {QTextListFormat.Style.ListStyleUndefined}
    (plain,) = docs("- plain\n")  # (kept: its blocks die with it)
    assert [b.textList().format().style() for b in blocks_of(plain)] == [QTextListFormat.Style.ListDisc]


def test_a_tables_grid_is_drawn_all_round_in_light_mode(qapp) -> None:
    """Seen (QA, and in the README's light screenshot): only the table's right and bottom edges were
    drawn; Qt's default table border is "outset", whose light sides vanish on a light background."""
    from PySide6.QtGui import QColor, QImage, QPainter

    from chatbot_gui.ui.render.themes import THEMES

    (doc,) = docs("| step | cost |\n|---|---|\n| read | O(n) |\n")
    doc.setTextWidth(300)
    image = QImage(300, int(doc.size().height()) + 2, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    doc.drawContents(painter)
    painter.end()
    border = QColor(THEMES["light"]["border"]).name()
    y = int(doc.size().height() * 0.75)  # through the second row
    vertical = [x for x in range(image.width()) if image.pixelColor(x, y).name() == border]
    assert len(vertical) >= 3, f"left edge, between the columns, right edge: {vertical}"
    x = (vertical[0] + vertical[1]) // 2
    horizontal = [y for y in range(image.height()) if image.pixelColor(x, y).name() == border]
    assert len(horizontal) >= 3, f"top edge, under the header, bottom edge: {horizontal}"


def test_fenced_code_keeps_its_exact_text_language_and_monospace(qapp) -> None:
    code = "def f(x):\n    return x  * 2   # <b>not bold</b>\n\n\tprint('tab')"
    (block,) = render_blocks(f"```python\n{code}\n```\n")
    assert (block.kind, block.language, block.code) == ("code", "python", code)
    (doc,) = docs(f"```python\n{code}\n```\n")
    assert doc.toPlainText() == code
    # highlighted: more than one colour in the code
    colours = {frag.charFormat().foreground().color().name()
               for b in blocks_of(doc) for frag in _fragments(b)}
    assert len(colours) > 2
    assert QFontInfo(doc.defaultFont()).fixedPitch()
    assert all(QFontInfo(frag.charFormat().font()).fixedPitch()
               for b in blocks_of(doc) for frag in _fragments(b))


def test_code_language_guessed_or_plain() -> None:
    assert render_blocks("```\nimport os\nprint(os.sep)\n```\n")[0].language == "python"
    assert render_blocks("```\n$ sudo apt-get install foo\n```\n")[0].language == "bash"
    plain = render_blocks("```\njust some words\n```\n")[0]
    assert plain.language == "" and "<span" not in plain.html
    unknown = render_blocks("```nosuchlang\nx = 1\n```\n")[0]
    assert unknown.language == "nosuchlang" and unknown.code == "x = 1"
    assert guess_language('{\n  "a": 1\n}') == "json"


def test_a_language_whose_lexer_module_is_missing_is_plain_text(monkeypatch) -> None:
    """The frozen app bundles the lexers of common languages only (build.spec PYGMENTS_LANGUAGES):
    Pygments still lists the others and importing their module fails. That is plain text, not an
    error (the frozen self-check checks the same in the build)."""
    import pygments.lexers
    from pygments.lexers._mapping import LEXERS

    from chatbot_gui.ui.render import markdown_html

    # What an excluded module looks like to an import: absent (None in sys.modules makes it fail).
    monkeypatch.setitem(sys.modules, "pygments.lexers.business", None)
    # Pygments caches a loaded lexer class under its display name ("COBOL"), never re-importing it.
    monkeypatch.delitem(pygments.lexers._lexer_cache, LEXERS["CobolLexer"][1], raising=False)
    markdown_html._lexer.cache_clear()
    try:
        block = render_blocks("```cobol\n       IDENTIFICATION DIVISION.\n```\n")[0]
        python = render_blocks("```python\nx = 1\n```\n")[0]
    finally:
        markdown_html._lexer.cache_clear()
    assert (block.kind, block.language, block.code) == ("code", "cobol", "       IDENTIFICATION DIVISION.")
    assert "<span" not in block.html and "IDENTIFICATION DIVISION." in block.html
    assert "<span" in python.html  # a bundled language is still highlighted


def test_links_only_http_https_mailto(qapp) -> None:
    (doc,) = docs("[ok](https://example.com/a?b=1) [mail](mailto:a@b.c) [js](javascript:alert(1)) "
                  "[file](file:///etc/passwd) [data](data:text/html,hi) [rel](/local) www.python.org "
                  "<https://auto.example>\n")
    assert anchors(doc) == [("ok", "https://example.com/a?b=1"), ("mail", "mailto:a@b.c"),
                            ("www.python.org", "http://www.python.org"),
                            ("https://auto.example", "https://auto.example")]
    text = doc.toPlainText()
    for word in ("js", "file", "data", "rel"):  # shown as text, not as links
        assert f" {word} " in f" {text} "


def test_raw_html_is_text_never_markup(qapp) -> None:
    sample = ('<script>alert(1)</script>\n\n<b>bold?</b> <img src="http://127.0.0.1:9/x.png"> '
              '<a href="javascript:alert(2)">click</a>\n\n<table><tr><td>x</td></tr></table>\n')
    ds = docs(sample)
    text = "\n".join(d.toPlainText() for d in ds)
    assert "<script>alert(1)</script>" in text
    assert '<b>bold?</b> <img src="http://127.0.0.1:9/x.png">' in text
    assert '<a href="javascript:alert(2)">click</a>' in text
    # only the bare http URL in the text is a link (an autolink); nothing the tags asked for
    assert [href for d in ds for _, href in anchors(d)] == ["http://127.0.0.1:9/x.png"]
    assert not any(tables(d) for d in ds)
    assert all("<img" not in b.html and "<script" not in b.html for b in render_blocks(sample))


def test_images_become_text_and_nothing_is_loaded(qapp, tmp_path) -> None:
    png = tmp_path / "big.png"
    img = QImage(300, 300, QImage.Format.Format_RGB32)
    img.fill(0xFF0000)
    img.save(str(png))
    blocks = render_blocks(f"![a chart](https://example.com/c.png) ![local]({png.as_uri()})\n")
    assert all("<img" not in b.html for b in blocks)
    (doc,) = docs(f"![a chart](https://example.com/c.png) ![local]({png.as_uri()})\n")
    assert "[image: a chart]" in doc.toPlainText() and "[image: local]" in doc.toPlainText()
    assert ("https://example.com/c.png", "https://example.com/c.png") in anchors(doc)
    # The second wall: even an <img> put in by hand is never loaded by a SafeDocument.
    plain = QTextDocument()
    plain.setHtml(f'<img src="{png.as_uri()}">')
    safe = SafeDocument()
    safe.setHtml(f'<img src="{png.as_uri()}">')
    assert plain.size().height() >= 300
    assert safe.size().height() < 100


def test_huge_tables_are_shown_as_text(qapp) -> None:
    wide = "|" + "|".join(f"c{i}" for i in range(MAX_TABLE_COLUMNS + 60)) + "|\n"
    wide += "|" + "|".join("---" for _ in range(MAX_TABLE_COLUMNS + 60)) + "|\n"
    (block,) = render_blocks(wide)
    assert block.kind == "code" and block.code == wide.rstrip("\n")
    long = "| a | b |\n|---|---|\n" + "".join(f"| {i} | x |\n" for i in range(5000))
    (block,) = render_blocks(long)
    assert block.kind == "code"
    small = "| a | b |\n|---|---|\n" + "".join(f"| {i} | x |\n" for i in range(300))
    assert render_blocks(small)[0].kind == "table"


def test_latex_is_kept_readable_not_mangled(qapp) -> None:
    (doc,) = docs(r"Inline $a_1 * b_2 * c$ and \(x_i^2 * y_i\); money: $5 and $10." + "\n")
    text = doc.toPlainText()
    assert "a_1 * b_2 * c" in text and "x_i^2 * y_i" in text and "$5 and $10" in text
    (block,) = render_blocks("$$\n\\sum_{i=1}^n \\alpha_i\n$$\n")
    assert block.kind == "math"
    (doc,) = docs("\\[ E = mc^2 * \\pi \\]\n")
    assert "E = mc^2 * π" in doc.toPlainText()
    assert tex_readable(r"\frac{a}{b} \leq \infty") == r"\frac{a}{b} ≤ ∞"


def _stream(text: str, steps: list[int]):
    """Feeds growing prefixes; yields (finished so far, open blocks) after each. Finished blocks
    the stream renders again (``redo``) replace the ones given out before, as the view does."""
    s = BlockStream()
    finished = []
    for end in steps:
        new, open_ = s.feed(text[:end])
        finished += new
        for index, render in getattr(s, "redo", []):
            finished[index] = render()
        yield list(finished), open_
    new, _ = s.feed(text, final=True)
    finished += new
    for index, render in getattr(s, "redo", []):
        finished[index] = render()
    yield finished, []


SAMPLE = (
    "# Plan\n\nFirst *para* with `code`.\n\n```python\nfor i in range(3):\n    print(i)\n```\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n- one\n- two\n\n  still two\n\n> quote\n\n"
    "$$\nx^2\n$$\n\nLast line with https://example.com and ~~old~~.\n"
)


@pytest.mark.parametrize("seed", range(6))
def test_streaming_in_any_pieces_gives_the_same_blocks_as_the_whole(seed: int) -> None:
    rnd = random.Random(seed)
    steps, pos = [], 0
    while pos < len(SAMPLE):
        pos = min(len(SAMPLE), pos + rnd.randint(1, 12))
        steps.append(pos)
    *_, (finished, _) = _stream(SAMPLE, steps)
    assert [b.html for b in finished] == [b.html for b in render_blocks(SAMPLE)]


REFERENCES = (
    "# Sources [h]\n\nLinks: [one][1], [ex][x], [two][2].\n\n- a [one][1]\n- b [x]\n\n| a | b |\n|---|---|\n"
    "| [x] | ![pic][2] |\n\n```python\narr[1] = [x]\n```\n\n[1]: https://one.example\n\nMid [x] and [1].\n\n"
    "[x]: https://x.example 'Title'\n[1]: https://later.example\n\nEnd [x][].\n[h]: https://h.example\n"
    "[2]: <https://two.example>\n"
)


@pytest.mark.parametrize("seed", range(12))
def test_reference_links_streamed_in_any_pieces_give_the_same_blocks_as_the_whole(seed: int) -> None:
    """Seen: "[one][1]" stayed raw after a reply whose "[1]: …" lines came at its end had ended: its
    paragraph was rendered for good before them. A definition made later renders again the finished
    blocks given out before it (``redo``); one made earlier serves the blocks after it; the first
    definition of a label wins, as in the whole text."""
    rnd = random.Random(seed)
    steps, pos = [], 0
    while pos < len(REFERENCES):
        pos = min(len(REFERENCES), pos + rnd.randint(1, 6))
        steps.append(pos)
    *_, (finished, _) = _stream(REFERENCES, steps)
    whole = render_blocks(REFERENCES)
    assert [b.html for b in finished] == [b.html for b in whole]
    assert "https://one.example" in whole[1].html and "https://later.example" not in whole[4].html


def test_only_prose_given_out_before_a_definition_is_rendered_again() -> None:
    text = "See [one][1].\n\n```python\nx = a[1]\n```\n\nNo brackets here.\n\n[1]: https://one.example\n"
    s = BlockStream()
    finished = []
    for end in range(1, len(text)):
        finished += s.feed(text[:end])[0]
        assert s.redo == []  # (while the definition's line may still be cut short)
    assert [b.kind for b in finished] == ["text", "code", "text"]
    assert s.feed(text, final=True)[0] == []
    assert [(index, render().html) for index, render in s.redo] == [(0, render_blocks(text)[0].html)]


def test_streaming_never_shows_a_fence_or_table_as_something_else() -> None:
    text = "Intro.\n\n```python\nx = 1\ny = 2\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nEnd.\n"
    seen_finished: list[str] = []
    for finished, open_ in _stream(text, list(range(1, len(text) + 1))):
        # finished blocks never change once given out
        assert [b.html for b in finished[: len(seen_finished)]] == seen_finished
        seen_finished = [b.html for b in finished]
        for block in open_:
            joined = block.html
            assert "```" not in joined and "|---" not in joined and "| a |" not in joined, joined
    kinds = [b.kind for b in render_blocks(text)]
    assert kinds == ["text", "code", "table", "text"]


def test_stream_rerenders_only_the_open_block() -> None:
    s = BlockStream()
    text = "".join(f"Paragraph {i} with some words.\n\n" for i in range(200))
    s.feed(text)
    before = s.done_chars
    assert before > len(text) - 40  # all but the last block are done
    new, open_ = s.feed(text + "More")
    assert new == [] or len(new) == 1
    assert s.done_chars >= before


def test_reasoning_split() -> None:
    r = split_reasoning("<think>\nweigh options\n</think>\n\nThe answer.")
    assert (r.reasoning, r.answer, r.thinking) == ("weigh options", "The answer.", False)
    r = split_reasoning("  <think>still going")
    assert (r.reasoning, r.answer, r.thinking) == ("still going", "", True)
    assert split_reasoning("No <think> here").answer == "No <think> here"


def test_dark_theme_changes_code_and_link_colours(qapp) -> None:
    light = render_blocks("```python\nimport os\n```\n[a](https://x.org)\n", "light")
    dark = render_blocks("```python\nimport os\n```\n[a](https://x.org)\n", "dark")
    assert light[0].html != dark[0].html and light[1].html != dark[1].html
    assert light[0].code == dark[0].code


def test_plain_document_shows_user_text_exactly(qapp) -> None:
    from PySide6.QtGui import QFont

    text = "# not a heading\n<b>not bold</b> **not bold** [x](javascript:y)"
    doc = plain_document(text, QFont())
    assert doc.toPlainText() == text
    assert not anchors(doc)


def test_an_open_code_block_is_not_lexed_whole_on_every_update_and_shows_what_whole_lexing_shows() -> None:
    """A long code block streamed line by line: each update lexes only its last lines (the head,
    up to a line the lexer ended outside a string or comment, is kept), and shows exactly what
    highlighting the whole block shows, multi-line strings included."""
    from chatbot_gui.ui.render.markdown_html import OPEN_CODE_KEEP_LINES, OpenCode, highlight, highlight_open

    lines = []
    for i in range(60):
        lines.append(f"def f{i}(x):  # step {i}")
        if i % 7 == 3:  # a docstring spanning more lines than are ever lexed again
            lines += ['    """A docstring'] + [f"    line {k} of it, with 'quotes' and # no comment" for k in range(OPEN_CODE_KEEP_LINES + 3)] + ['    """']
        lines.append(f"    return x * {i} + len('s')")
    code = "\n".join(lines) + "\n"
    head = OpenCode()
    lexed: list[int] = []
    import pygments.lexers.python as pylex

    original = pylex.PythonLexer.get_tokens
    for end in range(0, len(code), 37):
        part = code[:end]
        whole = highlight(part, "python", "default")
        pylex.PythonLexer.get_tokens = lambda self, text, *a: (lexed.append(len(text)), original(self, text, *a))[1]
        try:
            assert highlight_open(part, "python", "default", head) == whole
        finally:
            pylex.PythonLexer.get_tokens = original
    assert head.code and code.startswith(head.code)
    assert sum(lexed) < sum(range(0, len(code), 37)) / 4  # lexing all of it each time: 4 times as much
    assert highlight_open(code, "python", "monokai", head) == highlight(code, "python", "monokai")  # another style: anew


def _lines(doc: QTextDocument) -> list[str]:
    """The document's lines as laid out (a wrapped paragraph gives several)."""
    out = []
    for block in blocks_of(doc):
        layout = block.layout()
        for n in range(layout.lineCount()):
            line = layout.lineAt(n)
            out.append(block.text()[line.textStart():line.textStart() + line.textLength()])
    return out


def test_long_code_lines_wrap_at_spaces_and_long_runs_anywhere(qapp) -> None:
    """A code block's long line wraps at the document's width (a <pre> never did: its end was cut
    off at the panel's edge), at spaces when it has them, indentation kept; a run without spaces
    (base64, minified code) wraps anywhere, which Qt lays out in linear time (looking for word
    boundaries in it grows with the square of its length). The text stays as sent."""
    from PySide6.QtGui import QFont, QTextOption

    words = "    " + " ".join(f"word{i}" for i in range(60))
    blob = "QUJD" * 2000
    for code in (words, f"x = '{blob}'", f"- item\n\n  ```\n  {words}\n  ```\n"):
        source = code if code.startswith("- ") else f"```python\n{code}\n```\n"
        (block,) = render_blocks(source)
        doc = block_document(block, QFont())
        doc.setTextWidth(400)
        doc.size()  # (laid out)
        lines = _lines(doc)
        assert len(lines) > 3 and doc.idealWidth() <= 400, code[:20]
        assert "".join(lines).replace("\u2029", "") == doc.toPlainText().replace("\n", "")
        if code == words:
            assert doc.toPlainText() == words and lines[0].startswith("    word0 ")
            assert all(line.endswith(" ") for line in lines[:-1])  # broken at spaces
    (block,) = render_blocks(f"```\nx = '{blob}'\n```\n")
    mode = block_document(block, QFont()).defaultTextOption().wrapMode()
    assert mode == QTextOption.WrapMode.WrapAnywhere

"""Markdown text -> HTML blocks for Qt's rich-text engine. Qt-free: a pure function of the text.

A reply is cut into its top-level Markdown blocks (paragraph, heading, list, table, fenced code, quote,
math); each becomes one HTML fragment in the subset Qt's ``QTextDocument`` reads. The view gives each
block its own document, so a streamed reply re-renders only its last, unfinished block
(:class:`BlockStream`) and a finished block is never parsed or laid out again.

Safe by construction:
- the parser runs with ``html=False``: HTML in a reply is text, escaped, never interpreted;
- a link becomes an anchor only for ``http``, ``https`` and ``mailto``; anything else stays text;
- an image becomes the words "[image: alt]" plus a link to it: no ``<img>`` is ever emitted, so
  nothing is fetched (the documents also refuse every resource, see ``document.py``).

The parser is markdown-it-py (CommonMark + GitHub tables, strikethrough, task lists, autolinks via
linkify-it-py; ``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]`` math kept intact); code is highlighted
with Pygments. Both import on first use, never at start-up.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Callable
from urllib.parse import urlsplit

#: Schemes a link may have to become clickable.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: A table wider than this many columns is shown as its source text (Qt lays out a table in time that
#: grows with rows x columns, and a 1,000-column table is unreadable anyway).
MAX_TABLE_COLUMNS = 40
MAX_TABLE_ROWS = 2000

from chatbot_gui.ui.render.themes import THEMES  # noqa: E402 - re-exported: THEMES lives there


@dataclass(frozen=True)
class HtmlBlock:
    """One top-level block: its HTML, its kind, and for code its exact text and language."""

    html: str
    kind: str  # "text", "code", "table", "math", "quote"
    code: str = ""
    language: str = ""


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.tasklists import tasklists_plugin
    from mdit_py_plugins.texmath import texmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"])
    md.use(tasklists_plugin)
    # allow_digits/allow_space off: "$5 and $10" is money, not math.
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    md.use(texmath_plugin, delimiters="brackets")
    md.validateLink = lambda url: True  # we decide per scheme when rendering, see _link_open
    return md


_WARM_SAMPLE = ("A **sample** with `code`, a https://example.org link and $x$.\n\n"
                "```python\nprint(1)\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [ ] a task\n")


#: The fences' languages whose lexers ``warm_up`` makes ready (the ones replies use most). Another
#: language's lexer is made at its first code block: ~2-35 ms of the GUI thread, once per session.
WARM_LANGUAGES = ("python", "bash", "javascript", "typescript", "json", "html", "sql", "yaml")


def warm_up() -> None:
    """Loads and compiles, on any thread, what the first rendering of a reply needs: markdown-it and
    its plugins, Pygments and the lexers of the most common fences, and the regular expressions the
    parser's rules compile on first use. The shared parser is not used (linkify keeps state while it
    parses): a private one renders a sample. The first reply of a session took ~100 ms of the GUI
    thread for this (~60 ms of imports, ~20 ms Python's lexer, ~17 ms the first parse), and each
    other language's first block 2-35 ms more; after it, ~3 ms."""
    _parser.__wrapped__().render(_WARM_SAMPLE)
    for language in WARM_LANGUAGES:
        _lexer(language)


# -- inline rendering -----------------------------------------------------------------------------

_TEX_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "theta": "θ",
    "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π", "Sigma": "Σ",
    "Omega": "Ω", "sum": "∑", "prod": "∏", "int": "∫", "infty": "∞", "partial": "∂",
    "nabla": "∇", "times": "×", "cdot": "·", "pm": "±", "leq": "≤", "geq": "≥", "le": "≤",
    "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "to": "→", "rightarrow": "→",
    "leftarrow": "←", "Rightarrow": "⇒", "in": "∈", "notin": "∉", "subset": "⊂",
    "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃", "sqrt": "√", "ldots": "…",
    "cdots": "⋯", "equiv": "≡", "propto": "∝",
}
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)(?![A-Za-z])")


def tex_readable(tex: str) -> str:
    """TeX source with common symbol commands shown as their characters; everything else kept."""
    return _TEX_COMMAND.sub(lambda m: _TEX_SYMBOLS.get(m.group(1), m.group(0)), tex)


def _scheme_ok(href: str) -> bool:
    try:
        scheme = urlsplit(href.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_SCHEMES


def safe_link(href: str) -> bool:
    """Whether a link target may be opened (http, https, mailto only)."""
    return _scheme_ok(href)


#: Spacing comes from the view (a fixed gap between blocks), not from Qt's HTML defaults. Inline,
#: because a default style sheet costs ~0.1 ms per document to parse.
_Z = "margin-top:0px; margin-bottom:0px;"
_HEADING_SIZES = {"h1": "x-large", "h2": "large", "h3": "medium"}


class _Renderer:
    """Renders markdown-it tokens to Qt rich text. One instance per theme."""

    def __init__(self, theme: str) -> None:
        self.theme = theme
        self.colors = THEMES[theme]

    def inline(self, tokens: list[Any]) -> str:
        out: list[str] = []
        skip_close: list[bool] = []
        c = self.colors
        for tok in tokens:
            t = tok.type
            if t == "text":
                out.append(html.escape(tok.content, quote=False))
            elif t in ("softbreak",):
                out.append(" ")
            elif t == "hardbreak":
                out.append("<br/>")
            elif t == "code_inline":
                out.append(
                    f'<code style="background-color:{c["inline_code_bg"]}">'
                    f"{html.escape(tok.content, quote=False)}</code>"
                )
            elif t in ("strong_open", "strong_close"):
                out.append("<b>" if t.endswith("open") else "</b>")
            elif t in ("em_open", "em_close"):
                out.append("<i>" if t.endswith("open") else "</i>")
            elif t in ("s_open", "s_close"):
                out.append("<s>" if t.endswith("open") else "</s>")
            elif t == "link_open":
                href = tok.attrGet("href") or ""
                ok = _scheme_ok(href)
                skip_close.append(not ok)
                if ok:
                    out.append(f'<a href="{html.escape(href, quote=True)}" '
                               f'style="color:{c["link"]}">')
            elif t == "link_close":
                if skip_close and not skip_close.pop():
                    out.append("</a>")
            elif t == "image":
                src = tok.attrGet("src") or ""
                alt = html.escape(tok.content or "image", quote=False)
                out.append(f'<span style="color:{c["muted"]}">[image: {alt}]</span>')
                if _scheme_ok(src) and not src.lower().startswith("mailto"):
                    out.append(f' <a href="{html.escape(src, quote=True)}" '
                               f'style="color:{c["link"]}">{html.escape(src, quote=False)}</a>')
            elif t == "math_inline" or t == "math_inline_double":
                out.append(
                    f'<span style="font-family:serif; font-style:italic">'
                    f"{html.escape(tex_readable(tok.content), quote=False)}</span>"
                )
            elif t == "html_inline":
                # Only the task-list plugin creates these (raw HTML in the text is off).
                if "task-list-item-checkbox" in tok.content:
                    out.append("☑ " if "checked" in tok.content else "☐ ")
                else:
                    out.append(html.escape(tok.content, quote=False))
            else:  # anything unknown: its text, escaped
                out.append(html.escape(tok.content or "", quote=False))
        return "".join(out)

    def code(self, code: str, language: str, open_code: OpenCode | None = None) -> HtmlBlock:
        """A code block: only the code (the view draws the language and the Copy button above it,
        so selecting and copying the block gives exactly the code). ``open_code``: the block is
        still streaming (see :func:`highlight_open`)."""
        if code.endswith("\n"):
            code = code[:-1]  # the last line's terminator, not part of the code
        lang = language or guess_language(code)
        if open_code is not None:
            body = highlight_open(code, lang, self.colors["pygments"], open_code)
        else:
            body = highlight(code, lang, self.colors["pygments"])
        # pre-wrap: a long line wraps inside the code panel (a <pre> alone never wraps: Qt marks its
        # lines non-breakable, and the end of a long line was cut off at the panel's edge).
        html_ = f'<pre style="{_Z} white-space:pre-wrap; color:{self.colors["text"]}">{body}</pre>'
        return HtmlBlock(html_, "code", code=code, language=lang)

    def block(self, tokens: list[Any], source: str, open_code: OpenCode | None = None) -> HtmlBlock:
        """One top-level block (its tokens, and its source for tables shown as text)."""
        first = tokens[0]
        t = first.type
        if t in ("fence", "code_block"):
            info = (first.info or "").strip().split()
            return self.code(first.content, info[0] if info else "", open_code)
        if t == "math_block" or t == "math_block_label":
            tex = html.escape(tex_readable(first.content.strip("\n")), quote=False)
            return HtmlBlock(
                f'<p align="center" style="{_Z} font-family:serif; font-style:italic">'
                f'{tex.replace(chr(10), "<br/>")}</p>', "math")
        if t == "table_open":
            return self.table(tokens, source)
        if t == "blockquote_open":
            return HtmlBlock(self._generic(tokens), "quote")  # (drawn with a bar beside it)
        return HtmlBlock(self._generic(tokens), "text")

    def table(self, tokens: list[Any], source: str) -> HtmlBlock:
        columns = sum(1 for tok in tokens if tok.type == "th_open")
        rows = sum(1 for tok in tokens if tok.type == "tr_open")
        if columns > MAX_TABLE_COLUMNS or rows > MAX_TABLE_ROWS:
            return self.code(source, "text")
        return HtmlBlock(self._generic(tokens), "table")

    def _generic(self, tokens: list[Any]) -> str:
        c = self.colors
        out: list[str] = []
        for tok in tokens:
            t = tok.type
            if t == "inline":
                out.append(self.inline(tok.children or []))
            elif t == "heading_open":
                out.append(f'<{tok.tag} style="{_Z} font-size:{_HEADING_SIZES.get(tok.tag, "medium")}">')
            elif t == "heading_close":
                out.append(f"</{tok.tag}>")
            elif t == "paragraph_open":
                if not tok.hidden:
                    out.append(f'<p style="{_Z}">')
            elif t == "paragraph_close":
                if not tok.hidden:
                    out.append("</p>")
            elif t == "bullet_list_open":
                # A task list's box is its items' marker: no bullet beside it (as GitHub draws it).
                plain = "list-style-type:none; " if "contains-task-list" in str(tok.attrGet("class") or "") else ""
                out.append(f'<ul style="{plain}{_Z}">')
            elif t == "ordered_list_open":
                start = tok.attrGet("start")
                out.append(f'<ol start="{int(start)}" style="{_Z}">' if start else f'<ol style="{_Z}">')
            elif t in ("bullet_list_close", "ordered_list_close"):
                out.append(f"</{tok.tag}>")
            elif t == "list_item_open":
                out.append('<li style="margin-top:2px; margin-bottom:2px">')
            elif t == "list_item_close":
                out.append("</li>")
            elif t == "blockquote_open":
                out.append(f'<blockquote style="{_Z} color:{c["muted"]}">')
            elif t == "blockquote_close":
                out.append("</blockquote>")
            elif t == "hr":
                out.append("<hr/>")
            elif t == "table_open":
                out.append(f'<table border="1" cellspacing="0" cellpadding="5" '
                           f'style="border-collapse:collapse; border-style:solid; border-color:{c["border"]}">')
            elif t in ("table_close", "thead_open", "thead_close", "tbody_open", "tbody_close",
                       "tr_open", "tr_close", "th_close", "td_close"):
                out.append(f"<{'/' if tok.nesting < 0 else ''}{tok.tag}>")
            elif t in ("th_open", "td_open"):
                style = tok.attrGet("style") or ""
                align = style.replace("text-align:", "").strip()
                out.append(f'<{tok.tag} align="{align}">' if align else f"<{tok.tag}>")
            elif t in ("fence", "code_block"):  # nested in a list or quote
                out.append(f'<pre style="white-space:pre-wrap; background-color:{c["code_bg"]}">'
                           f"{html.escape(tok.content, quote=False)}</pre>")
            elif t in ("math_block", "math_block_label"):
                out.append(f'<p align="center" style="font-family:serif; font-style:italic">'
                           f"{html.escape(tex_readable(tok.content), quote=False)}</p>")
            elif t == "html_block":
                out.append(f'<p style="{_Z}">{html.escape(tok.content, quote=False)}</p>')
        return "".join(out)


@lru_cache(maxsize=4)
def _renderer(theme: str) -> _Renderer:
    return _Renderer(theme)


# -- code ---------------------------------------------------------------------------------------

_GUESSES = (
    (re.compile(r"^\s*(def |class |import |from \w+ import |print\()", re.M), "python"),
    (re.compile(r"^\s*(#!/bin/(ba)?sh|\$ |sudo |apt(-get)? |pip install |cd |ls |echo )", re.M), "bash"),
    (re.compile(r"^\s*(#include|int main\s*\()", re.M), "c"),
    (re.compile(r"^\s*(function |const |let |var |console\.log)", re.M), "javascript"),
    (re.compile(r"^\s*(SELECT|INSERT|UPDATE|CREATE TABLE)\b", re.M | re.I), "sql"),
    (re.compile(r"^\s*[{\[]\s*(\"|$)"), "json"),
    (re.compile(r"^\s*<(!DOCTYPE|html|div|\?xml)", re.I), "html"),
)


def guess_language(code: str) -> str:
    """A cheap guess at a fence's language when it has none ("" when there is no good guess)."""
    head = code[:2000]
    for pattern, lang in _GUESSES:
        if pattern.search(head):
            return lang
    return ""


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except (ClassNotFound, ImportError):
        # ImportError: Pygments knows the language but its lexer module is not there (the frozen app
        # bundles the lexers of common languages only, build.spec PYGMENTS_LANGUAGES): plain text.
        return None


@lru_cache(maxsize=4)
def _formatter(style: str) -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style=style, noclasses=True, nowrap=True)


#: A code block still streaming is highlighted again on each update only from the end of its last
#: "quiet" line at least this many lines back (see highlight_open); the lines before it are kept.
OPEN_CODE_KEEP_LINES = 12


class OpenCode:
    """The highlighted head of a reply's open code block, kept between updates (one per stream)."""

    __slots__ = ("key", "code", "html")

    def __init__(self) -> None:
        self.key: tuple[str, str] | None = None
        self.code = ""  # the head of the code highlighted for good
        self.html = ""  # its HTML


def highlight_open(code: str, language: str, style: str, head: OpenCode) -> str:
    """As :func:`highlight`, for a code block still streaming, without lexing all of it again on
    every update (measured: Pygments lexes Python at ~1.5 us per character: a 150-line open block
    cost ~7 ms of the GUI thread per update, in one piece). The head highlighted at earlier updates
    is reused; the rest is lexed, and the lines of it up to the last line end that the lexer reached
    outside a string or comment, OPEN_CODE_KEEP_LINES lines or more back, join the head. Each part
    is lexed from a line start in the lexer's first state, as the whole would be there in all but
    rare cases (a construct the lexer follows across lines that is neither string nor comment); the
    finished block is highlighted whole (``highlight``), so any difference lasts while it streams."""
    lexer = _lexer(language.lower()) if language else None
    if lexer is None:
        return html.escape(code, quote=False)
    from pygments import format as pyg_format
    from pygments.token import Comment, String

    key = (language.lower(), style)
    if head.key != key or not code.startswith(head.code):
        head.key, head.code, head.html = key, "", ""
    rest = code[len(head.code):]
    tokens = list(lexer.get_tokens(rest))
    keep = 0  # how many tokens end at a quiet line end far enough back
    lines = rest.count("\n")
    if lines > OPEN_CODE_KEEP_LINES:
        seen, pos = 0, 0
        for n, (ttype, value) in enumerate(tokens):
            pos += len(value)
            if value.endswith("\n"):
                seen += value.count("\n")
                if lines - seen < OPEN_CODE_KEEP_LINES:
                    break
                if ttype not in String and ttype not in Comment.Multiline:
                    keep = n + 1
    formatter = _formatter(style)
    if keep:
        done = "".join(v for _, v in tokens[:keep])
        if rest.startswith(done):  # (the lexer keeps the text as it is: stripnl and ensurenl off)
            head.code += done
            head.html += pyg_format(tokens[:keep], formatter)
            tokens = tokens[keep:]
            rest = rest[len(done):]
    out = pyg_format(tokens, formatter) if rest else ""
    if out.endswith("\n") and not code.endswith("\n"):
        out = out[:-1]
    return head.html + out


def highlight(code: str, language: str, style: str = "default") -> str:
    """``code`` as HTML spans coloured by Pygments (plain escaped text for an unknown language)."""
    lexer = _lexer(language.lower()) if language else None
    if lexer is None:
        return html.escape(code, quote=False)
    from pygments import highlight as pyg_highlight

    out = pyg_highlight(code, lexer, _formatter(style))
    # Pygments' formatter may add a newline at the end; the code's own text must not change.
    if out.endswith("\n") and not code.endswith("\n"):
        out = out[:-1]
    return out


# -- blocks and streaming -----------------------------------------------------------------------

def _block_starts(tokens: list[Any]) -> list[int]:
    return [i for i, tok in enumerate(tokens) if tok.level == 0 and tok.nesting >= 0]


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for m in re.finditer("\n", text):
        offsets.append(m.end())
    return offsets


def _split_tokens(tokens: list[Any], text: str, line_shift: int = 0) -> list[tuple[list[Any], str]]:
    """The top-level blocks of ``tokens`` with their source text (``text`` starts at line
    ``line_shift`` of what was parsed)."""
    starts = _block_starts(tokens)
    lines = _line_offsets(text)
    blocks: list[tuple[list[Any], str]] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(tokens)
        mapping = tokens[start].map
        source = ""
        if mapping:
            first, last = mapping[0] - line_shift, mapping[1] - line_shift
            a = lines[max(0, min(first, len(lines) - 1))]
            b = lines[last] if last < len(lines) else len(text)
            source = text[a:b]
        blocks.append((tokens[start:end], source))
    return blocks


def _render_tokens(tokens: list[Any], text: str, theme: str, line_shift: int = 0) -> list[HtmlBlock]:
    r = _renderer(theme)
    return [r.block(t, source) for t, source in _split_tokens(tokens, text, line_shift)]


class DeferredBlock:
    """A top-level block not rendered yet: calling it renders it (its inline parse too). ``size``
    (its source's length) and ``kind`` let a caller with a time budget guess what it will cost."""

    __slots__ = ("_render", "size", "kind")

    def __init__(self, render: Callable[[], HtmlBlock], tokens: list[Any], source: str) -> None:
        self._render = render
        self.size = len(source)
        first = tokens[0].type if tokens else ""
        self.kind = ("code" if first in ("fence", "code_block") else "table" if first == "table_open"
                     else "quote" if first == "blockquote_open" else "text")

    def __call__(self) -> HtmlBlock:
        return self._render()


def _deferred(tokens: list[Any], text: str, theme: str, env: dict | None = None, line_shift: int = 0,
              open_code: OpenCode | None = None) -> list[DeferredBlock]:
    r = _renderer(theme)
    if env is None:
        return [DeferredBlock(partial(r.block, t, source), t, source) for t, source in _split_tokens(tokens, text, line_shift)]
    return [DeferredBlock(partial(_inline_then_render, r, t, source, env, open_code), t, source)
            for t, source in _split_tokens(tokens, text, line_shift)]


def _inline_then_render(r: _Renderer, tokens: list[Any], source: str, env: dict,
                        open_code: OpenCode | None = None) -> HtmlBlock:
    _parse_inline(tokens, env)
    return r.block(tokens, source, open_code)


@lru_cache(maxsize=1)
def _core_stages() -> tuple[list[Any], list[Any]]:
    """The parser's core rules split in two: up to block structure, and the rest (inline parsing,
    task lists, linkify, text joining), which works block by block."""
    md = _parser()
    names = md.core.ruler.get_active_rules()
    funcs = md.core.ruler.getRules("")
    cut = names.index("block") + 1
    return funcs[:cut], funcs[cut:]


def _parse_structure(text: str, references: dict | None = None) -> tuple[list[Any], dict]:
    """Block-level tokens of ``text`` (their inline content not parsed yet) and the parse's env.
    ``references``: link reference definitions made before ``text`` (a label defined again in it
    keeps the first definition, as in a parse of the whole).

    A streamed reply is parsed again from its open block on every update; the inline half of
    markdown-it's work (emphasis, links, linkify's slow pretest) then runs once per finished block,
    when it is turned into a document within the view's time budget, not on every update for the
    whole tail (measured: ~2/3 of a 2 KB parse)."""
    from markdown_it.rules_core import StateCore

    env: dict = {"references": dict(references)} if references else {}
    state = StateCore(text, _parser(), env)
    for rule in _core_stages()[0]:
        rule(state)
    return state.tokens, env


def _parse_inline(tokens: list[Any], env: dict) -> None:
    """The rest of the core rules on one block's tokens (see ``_parse_structure``)."""
    from markdown_it.rules_core import StateCore

    state = StateCore("", _parser(), env)
    state.tokens = tokens
    for rule in _core_stages()[1]:
        rule(state)


def _render_again(r: _Renderer, source: str, references: dict) -> HtmlBlock:
    """A finished block rendered anew from its source, with the definitions known now."""
    tokens, env = _parse_structure(source, references)
    _parse_inline(tokens, env)
    return r.block(tokens, source) if tokens else HtmlBlock("", "text")


def render_blocks(text: str, theme: str = "light") -> list[HtmlBlock]:
    """All of ``text`` as top-level HTML blocks (a finished message)."""
    return _render_tokens(_parser().parse(text), text, theme)


#: The partial last line of a streaming reply is held back while it starts like a structure whose
#: form is not known yet (a fence "``", a table row "|"), so the view never shows it as one thing and
#: then another.
_HOLD_PARTIAL = re.compile(r"^ {0,3}[`~|]")


#: The top-level blocks whose text may hold a reference link (not code, not math).
_LINKABLE = frozenset({"paragraph_open", "heading_open", "bullet_list_open", "ordered_list_open",
                       "blockquote_open", "table_open"})


class BlockStream:
    """Renders a growing reply: finished top-level blocks once, the last (open) one on each update.

    ``feed(text)`` gets the whole reply so far and returns the blocks that became finished since the
    last call and the current rendering of the open block (possibly none). A block counts as
    finished once a later top-level block has begun, which is when CommonMark closes it. The text is
    parsed once per call, from the start of the open block.

    One thing may change a finished block: a link reference definition ("[1]: https://…", which
    replies often put at their end) for a reference link in it (``[one][1]``). Such blocks are
    given again, rendered with the definition, in ``redo`` - at the end of the reply at the latest
    (a definition counts once it is whole: once a later block began, or the reply ended).
    """

    def __init__(self, theme: str = "light") -> None:
        self.theme = theme
        self.done_chars = 0  # text[:done_chars] is rendered for good (but see ``redo``)
        #: The last open rendering is what the text fed so far renders to when final: all of the
        #: open part was rendered (no partial line held back, no lone table header), with no link
        #: reference definitions in play, no open code block highlighted in parts (``open_code``).
        #: Then ending the reply needs no rendering at all.
        self.open_exact = False
        self.open_code = OpenCode()  # the open code block's highlighted head (see highlight_open)
        #: Link reference definitions ("[1]: https://…") in ``text[:done_chars]``, as markdown-it
        #: keeps them (the first per label). Every later parse starts with them: a block finished
        #: after its definitions were rendered for good links ``[one][1]`` as the whole text does.
        self.references: dict = {}
        #: Finished blocks a definition that comes later may still turn links in (prose with a "]"
        #: in its source): [index among the finished blocks, its first token, its source, how
        #: many definitions were known when it was rendered].
        self._linkable: list[list[Any]] = []
        self._finished = 0  # finished blocks given out so far
        #: Set by each ``feed_deferred``: (index among the finished blocks, the block rendered
        #: again) for finished blocks given out before definitions they may use came (typically
        #: a reply's "[1]: …" lines at its end): the caller puts them in place of the old ones.
        self.redo: list[tuple[int, DeferredBlock]] = []

    def feed(self, text: str, final: bool = False) -> tuple[list[HtmlBlock], list[HtmlBlock]]:
        finished, open_ = self.feed_deferred(text, final)
        return [render() for render in finished], [render() for render in open_]

    def feed_deferred(self, text: str, final: bool = False) -> tuple[list[DeferredBlock], list[DeferredBlock]]:
        """As ``feed``, but each block (finished or open) comes as a function that renders it, so a
        caller with a time budget can spread a burst of blocks over several event-loop passes: only
        the block structure is parsed here. Finished blocks to render again are in ``redo``."""
        tail = text[self.done_chars:]
        self.open_exact = False
        self.redo = []
        if final:
            self.done_chars = len(text)
            tokens, env = _parse_structure(tail, self.references)
            self._learn_references(env)
            return self._finish_blocks(tokens, tail, env), []
        tokens, env = _parse_structure(tail, self.references)
        starts = _block_starts(tokens)
        finished: list[DeferredBlock] = []
        shift = 0
        if len(starts) > 1:
            # The last block with a source line map (texmath's blocks have none) starts the open part.
            k = len(starts) - 1
            while k > 0 and not tokens[starts[k]].map:
                k -= 1
            if k > 0:
                shift = tokens[starts[k]].map[0]
                offset = _line_offsets(tail)[shift]
                # Definitions before the open part are complete; one in it may be cut short.
                self._learn_references(env, shift)
                done_env = {"references": dict(self.references)} if self.references else {}
                finished = self._finish_blocks(tokens[: starts[k]], tail[:offset], done_env)
                self.done_chars += offset
                tail = tail[offset:]
                tokens = tokens[starts[k]:]
        open_src = tail
        nl = open_src.rfind("\n")
        partial_line = open_src[nl + 1:]
        if partial_line and _HOLD_PARTIAL.match(partial_line):
            open_src = open_src[: nl + 1]
            tokens, env = _parse_structure(open_src, self.references)
            shift = 0
        if _only_table_header(tokens, open_src):
            return finished, []
        self.open_exact = open_src == tail and not env.get("references")
        return finished, _deferred(tokens, open_src, self.theme, env, shift, self.open_code)

    def _learn_references(self, env: dict, before_line: int | None = None) -> None:
        """Keeps the definitions of a parse that are new (those ending by ``before_line`` of the
        parsed text; None: all, the text is final), and asks for the finished blocks given out
        before them to be rendered again (``redo``)."""
        found = env.get("references")
        if not found or len(found) == len(self.references):
            return
        count = len(self.references)
        for label, ref in found.items():
            if label in self.references:
                continue
            span = ref.get("map")
            if before_line is None or (span and span[1] <= before_line):
                self.references[label] = ref
        if len(self.references) == count:
            return
        r, known = _renderer(self.theme), len(self.references)
        references = dict(self.references)  # (a snapshot: later definitions do not change it)
        for entry in self._linkable:
            if entry[3] < known:
                entry[3] = known
                self.redo.append((entry[0], DeferredBlock(
                    partial(_render_again, r, entry[2], references), entry[1], entry[2])))

    def _finish_blocks(self, tokens: list[Any], text: str, env: dict) -> list[DeferredBlock]:
        """The finished blocks of ``tokens``; those a later definition may change are noted."""
        r, known = _renderer(self.theme), len(self.references)
        out = []
        for block_tokens, source in _split_tokens(tokens, text):
            if "]" in source and block_tokens[0].type in _LINKABLE:
                self._linkable.append([self._finished, block_tokens[:1], source, known])
            self._finished += 1
            out.append(DeferredBlock(partial(_inline_then_render, r, block_tokens, source, env),
                                     block_tokens, source))
        return out


def _only_table_header(tokens: list[Any], src: str) -> bool:
    """A paragraph of "| a | b |" lines that may still become a table when its delimiter row comes."""
    if not tokens or tokens[0].type != "paragraph_open":
        return False
    lines = [ln for ln in src.split("\n") if ln.strip()]
    return len(lines) == 1 and lines[0].lstrip().startswith("|")


# -- reasoning ------------------------------------------------------------------------------------

_THINK_OPEN = re.compile(r"\A\s*<think>", re.I)
_THINK_CLOSE = re.compile(r"</think>", re.I)


@dataclass(frozen=True)
class Reasoning:
    """A reply split into its reasoning (a leading ``<think>`` block) and the answer."""

    reasoning: str
    answer: str
    thinking: bool = False  # the <think> block is still open (streaming)


def split_reasoning(text: str) -> Reasoning:
    """Splits a leading ``<think>…</think>`` block off ``text`` (as DeepSeek-R1 and Qwen send it)."""
    m = _THINK_OPEN.match(text)
    if not m:
        return Reasoning("", text)
    close = _THINK_CLOSE.search(text, m.end())
    if close is None:
        return Reasoning(text[m.end():].strip("\n"), "", thinking=True)
    return Reasoning(text[m.end():close.start()].strip("\n"), text[close.end():].lstrip("\n"))

"""Generated Markdown for the rendering benchmarks: a long reply with code and tables, and chats."""

from __future__ import annotations

_WORDS = ("the model returns a value when streaming tokens over sockets with **bold** and `code` plus "
          "[a link](https://example.com/docs) text that *wraps* across the column of the reading view").split()


def long_reply(lines: int = 3_000, code_blocks: int = 50, tables: int = 5) -> str:
    """A ``lines``-line Markdown reply: headings, paragraphs, lists, ``code_blocks`` fenced Python
    blocks and ``tables`` tables, spread evenly."""
    out: list[str] = []
    per_code = lines // code_blocks
    table_at = {int((k + 0.5) * lines / tables) for k in range(tables)}
    code_done = tables_done = 0
    i = 0
    while len(out) < lines:
        i += 1
        if code_done < code_blocks and len(out) >= code_done * per_code:
            code_done += 1
            out += ["```python"]
            for k in range(6):
                out += [f"def step_{code_done}_{k}(x):  # {k}", f"    return x * {k} + len('s')"]
            out += ["```", ""]
            continue
        if tables_done < tables and any(len(out) >= t for t in sorted(table_at)[tables_done:tables_done + 1]):
            tables_done += 1
            out += ["| name | value | note |", "|---|---:|---|"]
            out += [f"| row {k} | **{k * 3}** | `x{k}` and text |" for k in range(12)] + [""]
            continue
        if i % 5 == 1:
            out += [f"## Part {i}", ""]
        out += [" ".join(_WORDS[(i * 7 + k) % len(_WORDS)] for k in range(16)) for _ in range(2)]
        out += ["", f"- item {i} with *emphasis*", "- another item", ""]
    return "\n".join(out[:lines]) + "\n"


def chunks_of(text: str, n: int) -> list[str]:
    """``text`` cut into ``n`` pieces of (nearly) equal length."""
    size, extra = divmod(len(text), n)
    out, pos = [], 0
    for k in range(n):
        step = size + (1 if k < extra else 0)
        out.append(text[pos:pos + step])
        pos += step
    return out


def chat_messages(n: int) -> list[tuple[int, str, str]]:
    """``n`` messages, alternating a short user question and a ~1 KB Markdown answer with code."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append((i + 1, "user", f"Question {i}: how does part {i % 97} work with the rest?"))
        else:
            body = " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(60))
            out.append((i + 1, "assistant", f"### Answer {i}\n\n{body}\n\n```python\nfor k in range({i % 50}):\n"
                        f"    print(k, {i})\n```\n\n- point one\n- point **two**\n\n{body}\n"))
    return out

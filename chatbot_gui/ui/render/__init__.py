"""Message rendering: Markdown text -> display documents (see ``markdown_html`` and ``document``).

``markdown_html`` is Qt-free (text -> HTML blocks, streaming split, reasoning split);
``document`` turns a block into a Qt document that refuses every resource.
"""

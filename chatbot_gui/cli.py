"""The command line: ``--version``, ``--help`` and ``--self-check`` answer and exit; anything else
starts the window (options Qt knows, such as ``-platform offscreen`` or ``-style fusion``, go to Qt).

Checked before Qt is imported, so ``Chatbot --version`` is quick and works without a display. A
windowed Windows build has no console (``sys.stdout`` is None): the text is shown in a message box.
"""

from __future__ import annotations

import sys
from typing import Sequence, TextIO

from chatbot_gui import APP_NAME

HELP = """\
usage: {prog} [-h] [-V] [--self-check [--keyring-roundtrip] [--output FILE]] [Qt options]

{app} {version}: a desktop chat client for OpenAI's Chat Completions API and
OpenAI-compatible servers (Ollama, LM Studio, llama.cpp, vLLM, OpenRouter, Azure OpenAI).
Without options it opens the chat window.

options:
  -h, --help            show this help and exit
  -V, --version         print the version and exit
  --self-check          check, without a window or the network, that this installation has
                        what it needs (OS keyring, TLS trust, SQLite search, Qt) and exit;
                        status 1 if something is missing
  --keyring-roundtrip   with --self-check: also write, read and delete a throw-away keyring entry
  --output FILE         with --self-check: write the report to FILE

Other options are passed to Qt (e.g. -platform offscreen, -style fusion).

environment:
  OPENAI_API_KEY        a key for this run (never stored)
  OPENAI_BASE_URL       the server for this run, e.g. http://localhost:11434/v1
  OPENAI_ORG_ID, OPENAI_PROJECT_ID
                        organization / project for OpenAI's own server (never sent elsewhere)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                        the usual proxy variables (a proxy set in Settings wins)
  CHATBOT_DEBUG=1       debug logging: the log then also holds the text of each request's
                        messages (never the API key); without it, one line per request
                        (server, model, how it ended)

The log is written to {log_dir}.
Help > About in the window shows where settings and chats are kept.
"""


def early_exit(argv: Sequence[str], out: TextIO | None = None) -> int | None:
    """Handle the options that answer without a window; None means: start the app."""
    args = list(argv[1:])
    if "--self-check" in args:
        from chatbot_gui.selfcheck import main as self_check

        return self_check(args)
    if any(a in ("-V", "--version") for a in args):
        from chatbot_gui import __version__

        return _say(f"{APP_NAME} {__version__}", out)
    if any(a in ("-h", "--help", "-help", "/?") for a in args):
        from chatbot_gui import __version__
        from chatbot_gui.core.logs import default_log_dir

        prog = _prog(argv[0] if argv else APP_NAME)
        return _say(HELP.format(prog=prog, app=APP_NAME, version=__version__, log_dir=default_log_dir()), out)
    return None


def _prog(argv0: str) -> str:
    import os

    name = os.path.basename(argv0)
    return name if name and not name.endswith((".py", "__main__.py")) else "python -m chatbot_gui"


def _say(text: str, out: TextIO | None) -> int:
    out = out if out is not None else sys.stdout
    if out is None:  # a windowed Windows build: no console to print to
        from PySide6.QtWidgets import QApplication, QMessageBox

        app = QApplication.instance() or QApplication([APP_NAME])
        box = QMessageBox(QMessageBox.Icon.Information, APP_NAME, text.split("\n\n", 1)[0])
        box.setDetailedText(text)
        box.exec()
        del app
        return 0
    print(text.rstrip("\n"), file=out)
    out.flush()
    return 0

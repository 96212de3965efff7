"""Painting never makes the GUI thread wait for other threads (issue 11: scrolling with no frame over 16 ms).

Qt's raster engine hands large fills (the message list's background, a code block's panel) to a pool of
threads and waits for them, unless ``QT_NO_GUI_THREADPOOL`` is set before the QApplication exists
(``chatbot_gui.app.qt_environment``). On a busy machine those waits were most of a slow PageUp step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The real app (chatbot_gui.app.main) in a child process: once the window is painted it opens a chat
# with code blocks, pages up through it (a repaint per page), then lists the process's threads by the
# name the kernel knows them by (Qt names its pool's threads "Thread (pooled)").
CHILD = r"""
import os, sys
import chatbot_gui.app as app_module
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

real = app_module.create_window

def create_window(*args, **kwargs):
    window, controller = real(*args, **kwargs)

    def scroll():
        view = window.transcript
        reply = "Some text.\n\n```python\n" + "\n".join(f"x{i} = {i}" for i in range(12)) + "\n```\n"
        view.set_messages([(i, "user" if i % 2 == 0 else "assistant", f"Question {i}?" if i % 2 == 0 else reply)
                           for i in range(60)])
        view.viewport().repaint()
        bar = view.verticalScrollBar()
        pages = 0
        while bar.value() > 0 and pages < 10:
            bar.setValue(bar.value() - bar.pageStep())
            view.viewport().repaint()
            pages += 1
        print("pages", pages, flush=True)
        names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
        print("threads", sorted(names), flush=True)
        QApplication.instance().quit()

    window.after_first_paint(lambda: QTimer.singleShot(100, scroll))
    return window, controller

app_module.create_window = create_window
if os.environ.get("PAINT_TEST_CONTROL") == "1":
    app_module.qt_environment = lambda environ=None: None  # the control: Qt as it comes
sys.exit(app_module.main(["chatbot"]))
"""


def _threads_after_scrolling(tmp_path: Path, control: bool) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"), OPENAI_API_KEY="sk-paint-threads-test",
               OPENAI_BASE_URL="http://127.0.0.1:9/v1", PAINT_TEST_CONTROL="1" if control else "0")
    env.pop("QT_NO_GUI_THREADPOOL", None)  # what the app does on its own, whatever this shell set
    (tmp_path / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=str(ROOT), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert int(lines["pages"]) >= 5, done.stdout  # (the chat was long enough to page through)
    return lines


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="lists threads through Linux's /proc")
def test_scrolling_a_chat_paints_on_the_gui_thread_alone(tmp_path: Path) -> None:
    # The control: without the app's setting, the same scroll starts Qt's paint threads (so the
    # check below would see them: it cannot pass because Qt renamed them).
    assert "Thread (pooled)" in _threads_after_scrolling(tmp_path / "control", control=True)["threads"]
    assert "Thread (pooled)" not in _threads_after_scrolling(tmp_path / "app", control=False)["threads"]

"""Start-up: the cyclic garbage collector is off until the window's first paint, and on after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The real app (chatbot_gui.app.main) in a child process; the window it builds reports the
# collector's state when it is built and once the first paint's callbacks have run, then quits.
CHILD = r"""
import gc, sys
import chatbot_gui.app as app_module
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

real = app_module.create_window

def create_window(*args, **kwargs):
    window, controller = real(*args, **kwargs)
    print("built", gc.isenabled(), flush=True)
    def report():
        print("painted", gc.isenabled(), flush=True)
        QApplication.instance().quit()
    window.after_first_paint(lambda: QTimer.singleShot(100, report))
    return window, controller

app_module.create_window = create_window
sys.exit(app_module.main(["chatbot"]))
"""


def test_collector_is_off_before_the_first_paint_and_on_after_it(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_RUNTIME_DIR=str(tmp_path / "run"), OPENAI_API_KEY="sk-startup-gc-test",
               OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    (tmp_path / "run").mkdir(mode=0o700)
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=str(ROOT), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["built False", "painted True"], done.stdout + done.stderr

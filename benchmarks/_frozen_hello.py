"""The frozen start-up and size budgets' baseline: a PySide6 hello-world window.

``pyinstaller build.spec -- --hello`` builds this script with the app's own trimming (same Qt
plugins, excludes, host libraries, stripping), named ``Hello``. It shows the bare window the
from-source start-up benchmark compares with (``_startup_child.py bare``: a QMainWindow holding a
QTextBrowser above a QPlainTextEdit). With ``--startup-probe`` it reports its first paint through
the same reporter as ``Chatbot --startup-probe`` and quits; without, it stays open.

Imports: PySide6 and chatbot_gui.startup_report only (which imports nothing else of the app).
"""

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow, QPlainTextEdit, QSplitter, QTextBrowser

from chatbot_gui.startup_report import install_startup_reporter


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("Hello")
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(QTextBrowser())
    splitter.addWidget(QPlainTextEdit())
    window.setCentralWidget(splitter)
    window.resize(900, 700)
    if "--startup-probe" in sys.argv[1:]:
        install_startup_reporter(window)
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())

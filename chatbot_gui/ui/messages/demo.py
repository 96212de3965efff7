"""A demo of the message view for screenshots: ``python -m chatbot_gui.ui.messages --demo [--dark]``.

``--shot FILE`` saves the window to FILE half a second after it is shown, then quits.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from chatbot_gui.ui.messages.view import ASSISTANT, USER, MessagesView

DEMO_REPLY = """## Reading a CSV file in Python

Use the **`csv`** module from the standard library; it handles quoting for you:

```python
import csv

with open("data.csv", newline="") as f:
    for row in csv.DictReader(f):
        print(row["name"], row["age"])
```

| option | meaning | default |
| --- | --- | --- |
| `delimiter` | field separator | `,` |
| `quotechar` | quoting character | `"` |

- [x] works with ~~huge~~ large files (it streams)
- [ ] needs *pandas* for analysis

The area of a circle is $A = \\pi r^2$, and the sum is

$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$

See https://docs.python.org/3/library/csv.html. <b>HTML</b> is shown as text.
"""


def main(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication(argv)
    view = MessagesView(theme="dark" if "--dark" in argv else "light")
    view.resize(1000, 760)
    view.setWindowTitle("Chatbot messages (demo)")
    view.add_message(1, USER, "How do I read a CSV file in Python? Show me a short example.")
    view.add_message(2, ASSISTANT, "<think>The user wants a CSV example.</think>" + DEMO_REPLY,
                     versions=2, version=2)
    view.set_reasoning(2, "", 4.2)
    view.add_message(3, USER, "Thanks! And in one line?")
    view.add_message(4, ASSISTANT, "`list(csv.reader(open('data.csv')))` — but close the file.")
    view.show()
    if "--shot" in argv:
        path = argv[argv.index("--shot") + 1]
        view.verticalScrollBar().setValue(0)
        QTimer.singleShot(500, lambda: (view.grab().save(path), app.quit()))
    return app.exec()


def cli() -> None:
    if "--demo" not in sys.argv:
        print("usage: python -m chatbot_gui.ui.messages --demo [--dark] [--shot FILE]")
        raise SystemExit(2)
    raise SystemExit(main(sys.argv))

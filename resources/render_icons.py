"""Render the app icon (resources/chatbot.svg) into the files the app and the build use.

Run from the repository root after changing the SVG: ``python resources/render_icons.py``.
Writes chatbot_gui/assets/chatbot-{16,32,48,64,128,256}.png (the window icon at run time: PNG needs no
Qt SVG plugins in the frozen app), resources/chatbot.ico (Windows executable icon) and
resources/chatbot.icns (macOS bundle icon). Uses QtSvg from PySide6-Essentials; no other tools.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "chatbot.svg"
ASSETS = ROOT / "chatbot_gui" / "assets"
SIZES = (16, 32, 48, 64, 128, 256)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QImage/QPainter need an application
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"cannot read {SVG}", file=sys.stderr)
        return 1

    def render(size: int) -> QImage:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        return image

    ASSETS.mkdir(exist_ok=True)
    pngs: dict[int, bytes] = {}
    for size in SIZES:
        image = render(size)
        out = ASSETS / f"chatbot-{size}.png"
        if not image.save(str(out), "PNG"):
            print(f"cannot write {out}", file=sys.stderr)
            return 1
        buf = QByteArray()
        dev = QBuffer(buf)
        dev.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(dev, "PNG")
        pngs[size] = bytes(buf.data())
    (ROOT / "resources" / "chatbot.ico").write_bytes(_ico(pngs))
    icns = ROOT / "resources" / "chatbot.icns"
    if b"icns" in [bytes(f.data()) for f in QImageWriter.supportedImageFormats()]:
        if not render(256).save(str(icns), "ICNS"):
            print(f"cannot write {icns}", file=sys.stderr)
            return 1
    else:
        print("Qt's icns image plugin is missing: chatbot.icns not written", file=sys.stderr)
    print("wrote", ", ".join(str(p.relative_to(ROOT)) for p in sorted(ASSETS.glob("chatbot-*.png"))),
          "resources/chatbot.ico resources/chatbot.icns")
    return 0


def _ico(pngs: dict[int, bytes]) -> bytes:
    """A multi-size .ico holding PNG-compressed images (valid since Windows Vista)."""
    import struct

    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries = b""
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + entries + b"".join(pngs[s] for s in sizes)


if __name__ == "__main__":
    raise SystemExit(main())

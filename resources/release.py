"""Make the Linux release artefact: ``python resources/release.py`` (from the checkout, in a venv
with ``pip install -e '.[build]'``).

1. Builds the one-folder app with ``build.spec`` (or takes an existing build: ``--app DIR``).
2. Checks it: ``Chatbot --version`` must print pyproject's version and ``Chatbot --self-check`` pass.
3. Writes ``dist/Chatbot-<version>-linux-<arch>.tar.gz``, one folder holding the app (``Chatbot/``),
   ``install.sh`` / ``uninstall.sh`` (per user, under ~/.local, no root), the desktop entry, the icons
   (SVG and PNG sizes in the hicolor layout), LICENSE, THIRD-PARTY-NOTICES.txt, a README.txt and
   GLIBC (the C library version the build needs at least: the newest GLIBC_x.y symbol version its
   binaries reference, which is the build machine's glibc or a little older).

The build runs on the machine's glibc: the app needs that version or newer (2.36 on Debian 12). For
older systems, build on the oldest distribution you support (a container of it works), since
glibc is backwards- but not forwards-compatible.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "resources"))
import buildinfo  # noqa: E402

APP_NAME = buildinfo.APP_NAME
ICON_SIZES = (16, 32, 48, 64, 128, 256)

README = """\
{app} {version} for Linux ({arch})
{rule}

A desktop chat client for OpenAI's Chat Completions API and OpenAI-compatible servers.

Install for your user (no root needed):   ./install.sh
  app:       ~/.local/lib/chatbot-gui/
  launcher:  ~/.local/bin/chatbot-gui
  menu:      ~/.local/share/applications/chatbot.desktop (with its icon)
Uninstall:                                ~/.local/lib/chatbot-gui/uninstall.sh
  (settings, chats and the key in your keyring are kept)

Or run it in place without installing:    ./Chatbot/Chatbot
Check it without opening a window:        ./Chatbot/Chatbot --self-check

Requirements: glibc {glibc} or newer (the newest C library version its binaries ask for); an X11 or
XWayland session; for storing the API key, a Secret Service keyring (GNOME Keyring, KWallet 5.97+).

Licences: {app} is MIT (LICENSE). It bundles Qt and PySide6 under the LGPL-3.0 and other
open-source software: THIRD-PARTY-NOTICES.txt lists each with its licence text, and says how to
replace the bundled Qt libraries (Chatbot/_internal/PySide6/Qt/lib).
"""


def glibc_version() -> str:
    """The build machine's glibc."""
    name, version = platform.libc_ver()
    return version if name == "glibc" and version else "unknown"


def required_glibc(app: Path) -> str | None:
    """The newest ``GLIBC_x.y`` symbol version any executable or library in ``app`` needs (what a
    user's system must have at least), from ``objdump -T``; None without binutils."""
    import re
    import shutil

    if shutil.which("objdump") is None:
        return None
    files = [p for p in app.rglob("*") if p.is_file() and (p.name == APP_NAME or ".so" in p.name)]
    versions: set[tuple[int, ...]] = set()
    for start in range(0, len(files), 200):
        out = subprocess.run(["objdump", "-T", *map(str, files[start:start + 200])], capture_output=True,
                             text=True, errors="replace")
        versions |= {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out.stdout)}
    return ".".join(map(str, max(versions))) if versions else None


def build(workdir: Path) -> Path:
    """Run PyInstaller on build.spec; return the one-folder app."""
    dist = workdir / "dist"
    subprocess.run([sys.executable, "-m", "PyInstaller", str(ROOT / "build.spec"), "--noconfirm",
                    "--distpath", str(dist), "--workpath", str(workdir / "build")], cwd=ROOT, check=True)
    return dist / APP_NAME


def check_app(app: Path, version: str) -> None:
    exe = app / APP_NAME
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["QT_QPA_PLATFORM"] = "minimal"
    out = subprocess.run([str(exe), "--version"], env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or out.stdout.strip() != f"{APP_NAME} {version}":
        raise SystemExit(f"release: {exe} --version said {out.stdout.strip()!r} (exit {out.returncode}), "
                         f"expected '{APP_NAME} {version}'\n{out.stderr}")
    check = subprocess.run([str(exe), "--self-check"], env=env, capture_output=True, text=True, timeout=120)
    print(check.stdout, end="")
    if check.returncode != 0:
        raise SystemExit(f"release: the self-check failed (exit {check.returncode})\n{check.stderr}")


def stage(app: Path, folder: Path, version: str, glibc: str, arch: str) -> Path:
    """Lay out the release folder (everything the tarball holds) at ``folder``."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(app, folder / APP_NAME, symlinks=True)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(ROOT / "resources" / script, folder / script)
        (folder / script).chmod(0o755)
    shutil.copy2(ROOT / "resources" / "chatbot.desktop", folder / "chatbot.desktop")
    scalable = folder / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy2(ROOT / "resources" / "chatbot.svg", scalable / "chatbot.svg")
    for size in ICON_SIZES:
        target = folder / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        target.mkdir(parents=True)
        shutil.copy2(ROOT / "chatbot_gui" / "assets" / f"chatbot-{size}.png", target / "chatbot.png")
    shutil.copy2(ROOT / "LICENSE", folder / "LICENSE")
    # build.spec puts the notices inside the bundle (chatbot_gui/, where About reads them); the
    # archive carries a copy at its top level, beside LICENSE.
    notices = next(app.rglob("THIRD-PARTY-NOTICES.txt"), None)
    if notices is None:
        raise SystemExit(f"release: {app} holds no THIRD-PARTY-NOTICES.txt (was it built with build.spec?)")
    shutil.copy2(notices, folder / notices.name)
    (folder / "GLIBC").write_text(glibc + "\n", encoding="utf-8")
    title = f"{APP_NAME} {version} for Linux ({arch})"
    (folder / "README.txt").write_text(README.format(app=APP_NAME, version=version, arch=arch, glibc=glibc,
                                                     rule="=" * len(title)), encoding="utf-8")
    return folder


def make_tarball(folder: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / f"{folder.name}.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return tarball


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python resources/release.py", description=__doc__.split("\n")[0])
    parser.add_argument("--app", type=Path, help="an existing one-folder build (dist/Chatbot) instead of building")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the .tar.gz goes (default: dist/)")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        raise SystemExit("release: this script makes the Linux artefact; see .github/workflows/release.yml "
                         "for Windows and macOS")
    version = buildinfo.project_version(ROOT)
    arch = platform.machine() or "unknown"
    with tempfile.TemporaryDirectory(prefix="chatbot-release-") as tmp:
        app = args.app.resolve() if args.app else build(Path(tmp))
        check_app(app, version)
        # What the build's binaries ask for (at most the build machine's glibc; that if unknown).
        glibc = required_glibc(app) or glibc_version()
        print(f"release: the build needs glibc {glibc} or newer (built on glibc {glibc_version()})")
        folder = stage(app, Path(tmp) / f"{APP_NAME}-{version}-linux-{arch}", version, glibc, arch)
        tarball = make_tarball(folder, args.out)
    size = tarball.stat().st_size / 2**20
    print(f"release: {tarball} ({size:.1f} MiB; needs glibc {glibc} or newer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The release artefact: the version resource / Info.plist values, the tarball layout, and
install.sh / uninstall.sh run for real into a temporary HOME.

The app folder in the tarball here is a stand-in whose ``Chatbot`` executable runs the app's real
command line from this checkout (``python -m chatbot_gui``), so the installed launcher answers
``--version`` through the real code; a PyInstaller build takes minutes on this machine and is made
by ``python resources/release.py`` itself, which checks the frozen app's ``--version`` and
``--self-check`` before packing it.
"""

from __future__ import annotations

import ast
import configparser
import os
import shlex
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "resources"))
import buildinfo  # noqa: E402
import release  # noqa: E402

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_build_info_reads_the_one_version() -> None:
    assert buildinfo.project_version(ROOT) == VERSION
    assert buildinfo.numeric_version("1.2.3") == (1, 2, 3, 0)
    assert buildinfo.numeric_version("2.0") == (2, 0, 0, 0)
    assert buildinfo.numeric_version("1.4.0rc2") == (1, 4, 0, 0)
    assert buildinfo.numeric_version("0.1.0+local.5") == (0, 1, 0, 0)


def test_windows_version_resource_carries_the_version() -> None:
    text = buildinfo.windows_version_text("1.2.3", "Chatbot test")
    tree = ast.parse(text, mode="eval")  # PyInstaller evals this text (load_version_info_from_text_file)
    assert isinstance(tree.body, ast.Call) and tree.body.func.id == "VSVersionInfo"
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo", "VarStruct"} <= set(calls)
    ffi = {kw.arg: ast.literal_eval(kw.value) for kw in calls["FixedFileInfo"].keywords}
    assert ffi["filevers"] == ffi["prodvers"] == (1, 2, 3, 0)
    strings = {ast.literal_eval(n.args[0]): ast.literal_eval(n.args[1]) for n in ast.walk(tree)
               if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "StringStruct"}
    assert strings["ProductVersion"] == strings["FileVersion"] == "1.2.3"
    assert strings["OriginalFilename"] == "Chatbot.exe" and strings["ProductName"] == "Chatbot"
    try:  # where PyInstaller's Windows helpers import (pefile installed), build the real structure
        from PyInstaller.utils.win32 import versioninfo
    except ImportError:
        return
    info = eval(text, vars(versioninfo))  # noqa: S307 - exactly what PyInstaller does
    assert isinstance(info.toRaw(), bytes)


def test_macos_info_plist_carries_the_version_and_the_spec_uses_it() -> None:
    plist = buildinfo.info_plist("1.2.3")
    assert plist["CFBundleShortVersionString"] == "1.2.3" and plist["CFBundleVersion"] == "1.2.3"
    assert plist["NSHighResolutionCapable"] is True
    spec = (ROOT / "build.spec").read_text(encoding="utf-8")
    assert "info_plist=buildinfo.info_plist(VERSION)" in spec and "version=VERSION" in spec
    assert "VERSION = buildinfo.project_version(ROOT)" in spec
    assert "version=str(buildinfo.windows_version_file(" in spec
    assert "buildinfo.write_notices(GENERATED, ROOT, VERSION, a.pure, a.binaries)" in spec


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("release")
    app = work / "build" / "Chatbot"
    app.mkdir(parents=True)
    exe = app / "Chatbot"
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)} "
                   "-m chatbot_gui \"$@\"\n", encoding="utf-8")
    exe.chmod(0o755)
    (app / "_internal" / "chatbot_gui").mkdir(parents=True)
    (app / "_internal" / "chatbot_gui" / "THIRD-PARTY-NOTICES.txt").write_text("notices\n", encoding="utf-8")
    folder = release.stage(app, work / "stage" / f"Chatbot-{VERSION}-linux-x86_64", VERSION, "2.36", "x86_64")
    return release.make_tarball(folder, work / "out")


def test_tarball_holds_the_app_scripts_desktop_entry_icons_and_licences(tarball: Path) -> None:
    assert tarball.name == f"Chatbot-{VERSION}-linux-x86_64.tar.gz"
    top = f"Chatbot-{VERSION}-linux-x86_64"
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
        readme = tar.extractfile(f"{top}/README.txt").read().decode()
    for name in ("Chatbot/Chatbot", "install.sh", "uninstall.sh", "chatbot.desktop", "LICENSE",
                 "THIRD-PARTY-NOTICES.txt", "README.txt", "GLIBC", "icons/hicolor/scalable/apps/chatbot.svg",
                 *(f"icons/hicolor/{s}x{s}/apps/chatbot.png" for s in release.ICON_SIZES)):
        assert f"{top}/{name}" in members, name
    for script in ("install.sh", "uninstall.sh", "Chatbot/Chatbot"):
        assert members[f"{top}/{script}"].mode & 0o111, f"{script} is not executable"
    assert "glibc 2.36 or newer" in readme and "./install.sh" in readme


def _unpack(tarball: Path, where: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(where, filter="tar")
    return where / tarball.name.removesuffix(".tar.gz")


def _run(script: Path, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **extra}
    return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=120)


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_install_then_uninstall_for_the_current_user(tarball: Path, tmp_path: Path) -> None:
    folder = _unpack(tarball, tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    result = _run(folder / "install.sh", home)
    assert result.returncode == 0, result.stderr
    app_dir = home / ".local" / "lib" / "chatbot-gui"
    launcher = home / ".local" / "bin" / "chatbot-gui"
    desktop = home / ".local" / "share" / "applications" / "chatbot.desktop"
    icons = home / ".local" / "share" / "icons" / "hicolor"
    assert f"Chatbot {VERSION} installed" in result.stdout
    assert f"{home / '.local' / 'bin'} is not on your PATH" in result.stdout

    # The launcher on PATH runs the installed app.
    assert launcher.is_symlink() and os.readlink(launcher) == str(app_dir / "Chatbot")
    ran = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, timeout=60)
    assert ran.stdout == f"Chatbot {VERSION}\n"
    # The menu entry points at the installed executable and names an icon that is installed.
    entry = _desktop_entry(desktop)
    assert entry["Exec"] == entry["TryExec"] == str(app_dir / "Chatbot")
    assert entry["Icon"] == "chatbot" and entry["Name"] == "Chatbot"
    assert (icons / "scalable" / "apps" / "chatbot.svg").is_file()
    assert all((icons / f"{s}x{s}" / "apps" / "chatbot.png").is_file() for s in release.ICON_SIZES)
    assert (app_dir / "uninstall.sh").is_file()
    assert (app_dir / "_internal" / "chatbot_gui" / "THIRD-PARTY-NOTICES.txt").is_file()

    # Installing again (an upgrade) works and lists each file once.
    assert _run(folder / "install.sh", home).returncode == 0
    manifest = (app_dir / "install-manifest.txt").read_text(encoding="utf-8").splitlines()
    assert len(manifest) == len(set(manifest)) == 2 + 1 + len(release.ICON_SIZES)

    # The user's own files, which uninstall must keep.
    settings = home / ".config" / "chatbot-gui" / "settings.json"
    chats = home / ".local" / "share" / "chatbot-gui" / "chats.sqlite3"
    for path in (settings, chats):
        path.parent.mkdir(parents=True)
        path.write_text("mine", encoding="utf-8")

    result = _run(app_dir / "uninstall.sh", home)
    assert result.returncode == 0, result.stderr
    assert not app_dir.exists() and not launcher.exists() and not launcher.is_symlink() and not desktop.exists()
    assert not list(icons.rglob("chatbot.*"))
    assert settings.read_text(encoding="utf-8") == chats.read_text(encoding="utf-8") == "mine"
    assert f"settings and personas: {home / '.config' / 'chatbot-gui'}/" in result.stdout
    assert f"chats:                 {home / '.local' / 'share' / 'chatbot-gui'}/" in result.stdout
    assert _run(folder / "uninstall.sh", home).returncode == 1  # nothing left to remove


def test_install_into_a_home_with_spaces_quotes_the_menu_entry(tarball: Path, tmp_path: Path) -> None:
    folder = _unpack(tarball, tmp_path / "unpacked")
    home = tmp_path / "my home"
    home.mkdir()
    assert _run(folder / "install.sh", home).returncode == 0
    exe = home / ".local" / "lib" / "chatbot-gui" / "Chatbot"
    entry = _desktop_entry(home / ".local" / "share" / "applications" / "chatbot.desktop")
    assert entry["Exec"] == f'"{exe}"' and entry["TryExec"] == str(exe)
    assert shlex.split(entry["Exec"]) == [str(exe)]


def test_uninstall_leaves_a_launcher_that_is_no_longer_ours(tarball: Path, tmp_path: Path) -> None:
    folder = _unpack(tarball, tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    assert _run(folder / "install.sh", home).returncode == 0
    launcher = home / ".local" / "bin" / "chatbot-gui"
    launcher.unlink()
    launcher.symlink_to("/usr/bin/true")  # the user pointed it elsewhere since
    assert _run(home / ".local" / "lib" / "chatbot-gui" / "uninstall.sh", home).returncode == 0
    assert os.readlink(launcher) == "/usr/bin/true"


def test_install_refuses_a_folder_without_the_app(tmp_path: Path) -> None:
    (tmp_path / "install.sh").write_bytes((ROOT / "resources" / "install.sh").read_bytes())
    result = _run(tmp_path / "install.sh", tmp_path)
    assert result.returncode == 1 and "run this script from the unpacked release folder" in result.stderr


def test_required_glibc_is_read_from_the_binaries(tmp_path: Path) -> None:
    import platform
    import shutil

    if shutil.which("objdump") is None:
        assert release.required_glibc(tmp_path) is None
        return
    app = tmp_path / "Chatbot"
    app.mkdir()
    shutil.copy2(sys.executable, app / "Chatbot")  # a real dynamically linked executable
    needed = release.required_glibc(app)
    assert needed is not None
    as_tuple = tuple(map(int, needed.split(".")))
    assert (2, 2) <= as_tuple <= tuple(map(int, platform.libc_ver()[1].split(".")))

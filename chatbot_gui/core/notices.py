"""Third-party notices, generated from the installed distributions' metadata (never typed by hand).

What a build ships is the app's dependency closure: ``chatbot-gui``'s ``Requires-Dist`` entries whose
environment markers hold here, followed recursively (extras included when a requirement asks for
them). For each distribution the notice gives its name, version, licence (``License-Expression``,
else ``License``, else the ``License ::`` classifiers) and the full text of the licence files its
metadata lists. A distribution that ships no licence file (PySide6-Essentials and shiboken6 today)
gets the standard text of the licence it names, from ``resources/licenses/``; if there is none, the
generator fails rather than ship an incomplete file.

Qt and PySide6 come with the LGPL-3.0 notice of how a user can replace the Qt libraries (the
one-folder layout keeps them as separate files), and Python itself with its licence file.

build.spec writes the result into the bundle (``chatbot_gui/THIRD-PARTY-NOTICES.txt``); Help > About
shows that file, or from a checkout generates the text on the fly.
``python -m chatbot_gui.core.notices [-o FILE]`` prints or writes it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterable, Sequence

from chatbot_gui.core.version import DIST_NAME

NOTICES_FILE = "THIRD-PARTY-NOTICES.txt"
#: Distributions that carry Qt (used under LGPL-3.0-only of their LGPL/GPL choice).
QT_DISTS = ("pyside6-essentials", "pyside6", "shiboken6", "pyside6-addons")
QT_CHOSEN_LICENCE = "LGPL-3.0-only"
QT_STANDARD_TEXTS = ("LGPL-3.0-only", "GPL-3.0-only")  # LGPL-3.0 incorporates GPL-3.0 by reference
_LICENCE_FILE_RE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)


class NoticeError(RuntimeError):
    """A distribution's licence text cannot be found: the notices would be incomplete."""


def canonical(name: str) -> str:
    """PEP 503 normalised name (``jaraco.classes`` -> ``jaraco-classes``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_class():  # type: ignore[no-untyped-def]  # packaging's Requirement
    """packaging's Requirement (markers, extras). Imported by name, so that PyInstaller does not
    bundle packaging or pip into the app: the frozen app reads the generated file and never needs it."""
    import importlib

    try:
        return importlib.import_module("packaging.requirements").Requirement
    except ImportError:  # a venv with only the app: pip's own copy of packaging
        return importlib.import_module("pip._vendor.packaging.requirements").Requirement


def closure(root: str = DIST_NAME) -> list[metadata.Distribution]:
    """``root`` and every distribution it needs here (markers evaluated for this interpreter and OS)."""
    requirement = _requirement_class()
    found: dict[str, metadata.Distribution] = {}
    wanted_extras: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        key = canonical(name)
        known = wanted_extras.setdefault(key, set())
        if key in found and extras <= known:
            continue
        known |= extras
        try:
            dist = found.get(key) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if key == canonical(root):
                raise
            continue  # a requirement whose marker holds but that is not installed: nothing to ship
        found[key] = dist
        for line in dist.requires or []:
            req = requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *sorted(known))):
                todo.append((req.name, frozenset(req.extras)))
    return sorted(found.values(), key=lambda d: canonical(d.metadata["Name"]))


@dataclass(frozen=True)
class Notice:
    name: str
    version: str
    licence: str
    homepage: str
    texts: tuple[tuple[str, str], ...]  # (file name, text)
    note: str = ""


def licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    licence = (meta.get("License") or "").strip()
    if licence and licence.upper() != "UNKNOWN" and len(licence) < 200:
        return licence
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return " / ".join(classifiers) if classifiers else (licence[:200] if licence else "not stated")


def _homepage(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    if meta.get("Home-page"):
        return meta["Home-page"]
    for url in meta.get_all("Project-URL") or []:
        label, _, link = url.partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository", "source code"):
            return link.strip()
    return ""


def licence_texts(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """The licence files the distribution ships in its metadata folder (``License-File``, else the
    usual names: LICENSE*, COPYING*, NOTICE*, AUTHORS*)."""
    declared = [f for f in dist.metadata.get_all("License-File") or []]
    texts: list[tuple[str, str]] = []
    for name in declared:
        # Metadata 2.4 puts them under licenses/; older wheels beside METADATA.
        text = dist.read_text(f"licenses/{name}") or dist.read_text(name)
        if text:
            texts.append((name, text))
    if texts:
        return texts
    info_files = [f for f in dist.files or [] if f.parent.name.endswith(".dist-info") or
                  (f.parent.name == "licenses" and f.parent.parent.name.endswith(".dist-info"))]
    for file in sorted(info_files, key=str):
        if _LICENCE_FILE_RE.match(file.name):
            try:
                texts.append((file.name, file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError):
                continue
    return texts


def notice_for(dist: metadata.Distribution, standard_texts: Path | None = None) -> Notice:
    name = dist.metadata["Name"]
    licence = licence_of(dist)
    texts = licence_texts(dist)
    note = ""
    if canonical(name) in QT_DISTS:
        note = f"Used under {QT_CHOSEN_LICENCE} (the distribution offers: {licence})."
        if not texts:
            texts = [_standard_text(spdx, standard_texts, name) for spdx in QT_STANDARD_TEXTS]
    elif not texts:
        spdx = licence.split()[0] if licence else ""
        texts = [_standard_text(spdx, standard_texts, name)]
    return Notice(name, dist.version, licence, _homepage(dist), tuple(texts), note)


def _standard_text(spdx: str, folder: Path | None, who: str) -> tuple[str, str]:
    path = folder / f"{spdx}.txt" if folder is not None else None
    if path is None or not path.is_file():
        raise NoticeError(f"{who} ships no licence file and no standard text for {spdx!r} was found"
                          f"{f' in {folder}' if folder else ''}")
    return (path.name, path.read_text(encoding="utf-8"))


def python_notice() -> Notice:
    """The Python interpreter and standard library the build carries (its LICENSE.txt)."""
    version = sys.version.split()[0]
    lib = Path(sys.base_prefix)
    candidates = [lib / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "LICENSE.txt",
                  lib / "LICENSE.txt", lib / "Lib" / "LICENSE.txt",
                  Path(f"/usr/share/doc/python{sys.version_info[0]}.{sys.version_info[1]}/copyright")]
    for path in candidates:
        if path.is_file():
            return Notice("Python", version, "PSF-2.0", "https://www.python.org/", ((path.name, path.read_text(
                encoding="utf-8", errors="replace")),))
    raise NoticeError(f"Python's licence file was not found (looked at {', '.join(map(str, candidates))})")


QT_NOTICE = """\
Qt and Qt for Python (PySide6, shiboken6)

{app} uses the Qt libraries through Qt for Python, under the GNU Lesser General Public
License version 3 (LGPL-3.0-only; its text and the GPL-3.0 it builds on follow in this file).
The Qt {qt_version} libraries are not linked into {app}'s executable: they are separate shared
libraries inside the app's folder (Linux: _internal/PySide6/Qt/lib/libQt6*.so.6; Windows:
_internal\\PySide6\\Qt6*.dll; macOS: Chatbot.app/Contents/Frameworks/PySide6/Qt/lib/Qt*.framework).
You may replace them with your own build of the same Qt version (or a compatible one), modified or
not: build Qt {qt_version} from its source, which is available at https://download.qt.io/ and
https://code.qt.io/, and put your libraries in place of the bundled ones with the same file names.
The source of Qt for Python is at https://code.qt.io/cgit/pyside/pyside-setup.git/ (tag
v{pyside_version}). Qt itself contains third-party components under their own licences, listed at
https://doc.qt.io/qt-6/licenses-used-in-qt.html.
"""


def render(notices: Sequence[Notice], app_name: str, app_version: str, app_licence: tuple[str, str] | None,
           extra_sections: Iterable[str] = ()) -> str:
    """The notices file: a header, the Qt notice, one section per distribution with its texts."""
    rule = "=" * 78
    out = [f"{app_name} {app_version}: third-party notices", "",
           f"{app_name} is free software under the MIT licence (below). The app bundles the following",
           "software; each is listed with its version, its licence and the licence text it ships.", ""]
    for notice in notices:
        out.append(f"  {notice.name} {notice.version}: {notice.licence}")
    out.append("")
    versions = {canonical(n.name): n.version for n in notices}
    qt = [n for n in notices if canonical(n.name) in QT_DISTS]
    if qt:
        pyside = versions.get("pyside6-essentials") or versions.get("pyside6") or qt[0].version
        out += [rule, QT_NOTICE.format(app=app_name, qt_version=pyside, pyside_version=pyside)]
    if app_licence is not None:
        out += [rule, f"{app_name} {app_version}: MIT", "", app_licence[1].rstrip(), ""]
    for notice in notices:
        out += [rule, f"{notice.name} {notice.version}", f"Licence: {notice.licence}"]
        if notice.homepage:
            out.append(f"Home: {notice.homepage}")
        if notice.note:
            out.append(notice.note)
        for file_name, text in notice.texts:
            out += ["", f"--- {file_name} ---", "", text.rstrip()]
        out.append("")
    for section in extra_sections:
        out += [rule, section.rstrip(), ""]
    return "\n".join(out).rstrip() + "\n"


def generate(root: str = DIST_NAME, *, standard_texts: Path | None = None, app_licence: Path | None = None,
             extra_dists: Iterable[str] = (), extra_sections: Iterable[str] = (),
             app_version: str | None = None) -> str:
    """The notices text for ``root``'s closure (plus ``extra_dists``), and Python."""
    from chatbot_gui import APP_NAME
    from chatbot_gui.core.version import app_version as running_version

    dists = {canonical(d.metadata["Name"]): d for d in closure(root)}
    for name in extra_dists:
        dists.setdefault(canonical(name), metadata.distribution(name))
    dists.pop(canonical(root), None)
    notices = [python_notice(), *(notice_for(d, standard_texts) for _, d in sorted(dists.items()))]
    licence = None
    if app_licence is not None and app_licence.is_file():
        licence = (app_licence.name, app_licence.read_text(encoding="utf-8"))
    return render(notices, APP_NAME, app_version or running_version(), licence, extra_sections)


def distributions_of_modules(modules: Iterable[str]) -> dict[str, set[str]]:
    """Which installed distribution each module (``openai._client``) or bundled file path
    (``PySide6/Qt/lib/libQt6Core.so.6``) comes from: canonical distribution name -> top-level names.
    Standard-library modules and files no distribution owns are left out."""
    owners = metadata.packages_distributions()
    found: dict[str, set[str]] = {}
    for module in modules:
        top = re.split(r"[./\\]", module, maxsplit=1)[0]
        for dist in owners.get(top, ()):
            found.setdefault(canonical(dist), set()).add(top)
    return found


def listed_distributions(text: str) -> set[str]:
    """The canonical names of the distributions a notices text lists in its summary."""
    names = set()
    for line in text.split("\n\n", 2)[2].splitlines():
        if not line.startswith("  "):
            break
        names.add(canonical(line.strip().split(" ", 1)[0]))
    return names


def source_checkout_root() -> Path | None:
    """The checkout this package runs from (it has pyproject.toml and resources/), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "resources").is_dir() else None


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m chatbot_gui.core.notices", description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", help="write to this file instead of printing")
    args = parser.parse_args(argv)
    root = source_checkout_root()
    text = generate(standard_texts=root / "resources" / "licenses" if root else None,
                    app_licence=root / "LICENSE" if root else None)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The app's one version number, read from where the running copy got it (never typed twice).

``pyproject.toml`` holds the only hand-written copy. An installed or editable install reads it back
from the distribution's metadata (``importlib.metadata``, written by pip from pyproject). A frozen
build has no metadata for the app: build.spec reads pyproject and writes the number into the bundle
as ``chatbot_gui/VERSION`` (see :data:`BAKED_FILE`), which is looked at first. A checkout run without
installing falls back to reading ``pyproject.toml`` beside the package.

Reading metadata imports ``importlib.metadata`` (~50 ms of imports on this machine), so nothing on the
start-up path asks for the version: ``chatbot_gui.__version__`` is computed on first access.
"""

from __future__ import annotations

from pathlib import Path

DIST_NAME = "chatbot-gui"
#: Written into the frozen bundle by build.spec (resources/buildinfo.py); absent from a checkout.
BAKED_FILE = "VERSION"
UNKNOWN = "0+unknown"


def app_version(package_dir: Path | None = None) -> str:
    """The running copy's version: the baked file, else the installed metadata, else pyproject."""
    package_dir = package_dir or Path(__file__).resolve().parents[1]
    baked = package_dir / BAKED_FILE
    try:
        text = baked.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    if text:
        return text
    from importlib import metadata

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        pass
    return pyproject_version(package_dir.parent / "pyproject.toml") or UNKNOWN


def pyproject_version(pyproject: Path) -> str | None:
    """``[project] version`` of our pyproject.toml, or None when it is missing or someone else's."""
    import tomllib

    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError):
        return None
    if project.get("name") != DIST_NAME or not isinstance(project.get("version"), str):
        return None
    return project["version"]

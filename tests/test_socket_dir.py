"""Without XDG_RUNTIME_DIR the single-instance socket lives in a private 0700 folder of the user, so
another local user can neither take the name first (blocking the start) nor receive its messages.
Real folders and a real QLocalServer; "another user" is a folder chowned to nobody (tests run as root)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatbot_gui.ui.single_instance import SingleInstance, nobody_listening, private_socket_dir, server_name

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")

NOBODY = 65534


@pytest.fixture
def no_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    tmp = Path(tempfile.mkdtemp(prefix="sock-"))  # short: socket paths have a length limit
    os.chmod(tmp, 0o1777)  # like /tmp: everybody may create things here
    monkeypatch.setenv("TMPDIR", str(tmp))
    yield tmp
    shutil.rmtree(tmp)


def _private(folder: Path) -> bool:
    st = os.lstat(folder)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700


def test_the_socket_lives_in_a_private_folder(qtbot, no_runtime_dir: Path, tmp_path: Path) -> None:
    name = server_name(tmp_path / "data")
    folder = Path(name).parent
    assert folder == no_runtime_dir / f"chatbot-gui-{os.getuid()}"
    assert _private(folder)
    instance = SingleInstance(name)
    try:
        assert instance.listen(lambda: None)
        assert stat.S_ISSOCK(os.stat(name).st_mode)
        assert not nobody_listening(name)
    finally:
        instance.close()


def test_a_folder_another_user_made_first_is_not_used(qtbot, no_runtime_dir: Path, tmp_path: Path) -> None:
    squat = no_runtime_dir / f"chatbot-gui-{os.getuid()}"
    squat.mkdir(mode=0o777)
    os.chmod(squat, 0o777)
    os.chown(squat, NOBODY, NOBODY)
    link = no_runtime_dir / f"chatbot-gui-{os.getuid()}-1"
    link.symlink_to(squat)  # a link to somewhere the other user controls
    name = server_name(tmp_path / "data")
    folder = Path(name).parent
    assert folder == no_runtime_dir / f"chatbot-gui-{os.getuid()}-2"
    assert _private(folder)
    instance = SingleInstance(name)
    try:
        assert instance.listen(lambda: None)
        assert list(squat.iterdir()) == []  # nothing of ours went into the other user's folder
    finally:
        instance.close()


def test_an_open_folder_of_our_own_is_made_private_again(no_runtime_dir: Path, tmp_path: Path) -> None:
    mine = no_runtime_dir / f"chatbot-gui-{os.getuid()}"
    mine.mkdir()
    os.chmod(mine, 0o755)
    assert private_socket_dir(tmp_path / "data") == str(mine)
    assert _private(mine)


def test_when_every_temp_name_is_taken_the_data_folder_is_used(no_runtime_dir: Path, tmp_path: Path) -> None:
    for n in range(8):
        taken = no_runtime_dir / (f"chatbot-gui-{os.getuid()}" + (f"-{n}" if n else ""))
        taken.mkdir()
        os.chown(taken, NOBODY, NOBODY)
    data = tmp_path / "d"
    assert private_socket_dir(data) == str(data)
    assert _private(data)

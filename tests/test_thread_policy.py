"""Background threads do not preempt the GUI thread when they wake up (``core/sched.py``; Linux)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chatting import type_and_send, wait_idle
from fakeserver import stream
from test_chat_window import app_paths, chat  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is a Linux scheduling policy")


def _threads() -> dict[int, tuple[str, int]]:
    """This process's threads: id -> (name as the system shows it, scheduling policy)."""
    found = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            found[int(task.name)] = ((task / "comm").read_text().strip(), os.sched_getscheduler(int(task.name)))
        except (FileNotFoundError, ProcessLookupError):  # (a thread that ended meanwhile)
            continue
    return found


def test_a_request_thread_runs_as_background_work_and_the_gui_thread_does_not(qtbot, chat, fake_server):  # noqa: F811
    window, controller = chat
    fake_server.queue(stream(["Slow ", "reply"] + [" word"] * 100, delay=0.02))
    type_and_send(qtbot, window, "hello")
    qtbot.waitUntil(lambda: "Slow reply" in "".join(window.transcript.blocks_of_kind("assistant")))
    threads = _threads()
    requests = [policy for name, policy in threads.values() if name.startswith("CompletionThr")]
    assert requests and set(requests) == {os.SCHED_BATCH}, threads
    assert threads[os.getpid()][1] == os.SCHED_OTHER  # the GUI (main) thread keeps the normal policy
    window.stop_button.click()
    wait_idle(qtbot, controller)

"""Request threads give way to the GUI thread (``core/sched.py``): their wake-ups do not preempt it
(Linux), and they hold back while it is busy with the user's action."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from chatting import type_and_send, wait_idle
from fakeserver import stream
from test_chat_window import app_paths, chat  # noqa: F401 - fixtures



def _threads() -> dict[int, tuple[str, int]]:
    """This process's threads: id -> (name as the system shows it, scheduling policy)."""
    found = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            found[int(task.name)] = ((task / "comm").read_text().strip(), os.sched_getscheduler(int(task.name)))
        except (FileNotFoundError, ProcessLookupError):  # (a thread that ended meanwhile)
            continue
    return found


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is a Linux scheduling policy")
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


def test_request_threads_hold_back_while_the_gui_thread_is_busy_with_the_user(qtbot, chat, fake_server):  # noqa: F811
    """The GUI thread says it is busy (a send, a chat to show: ``sched.gui_busy``): a streaming
    request thread delivers nothing more until then, and goes on afterwards with nothing lost."""
    from chatbot_gui.core import sched

    window, controller = chat
    words = [f"w{i} " for i in range(150)]
    fake_server.queue(stream(words, delay=0.004))
    type_and_send(qtbot, window, "hello")
    shown = lambda: "".join(window.transcript.blocks_of_kind("assistant"))  # noqa: E731
    qtbot.waitUntil(lambda: "w5 " in shown())
    sched.gui_busy(0.5)
    qtbot.wait(60)  # (what was delivered before shows)
    held = shown()
    qtbot.wait(250)
    assert shown() == held and "w149" not in held
    wait_idle(qtbot, controller)
    assert controller.conversation.messages[-1].content == "".join(words)


def test_gui_busy_holds_a_request_thread_back_until_its_deadline_only() -> None:
    import time

    from chatbot_gui.core import sched

    sched.gui_busy(0.05)
    t = time.monotonic()
    sched.pause_for_gui()
    assert 0.04 <= time.monotonic() - t < 0.5
    t = time.monotonic()
    sched.pause_for_gui()  # (the deadline passed: no wait)
    assert time.monotonic() - t < 0.01

"""The one background task runner: results on the GUI thread, cancel, timeout, quit waits."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread, QTimer

from chatbot_gui.ui.tasks import TaskRunner, TaskTimeout

pytestmark = pytest.mark.gui


@pytest.fixture
def task_runner(qapp):
    runner = TaskRunner()
    yield runner
    assert runner.wait(2.0), "a task was left running"
    runner.deleteLater()


def test_result_arrives_on_the_gui_thread(qtbot, task_runner):
    seen: list = []
    worker_threads: list = []

    def work():
        worker_threads.append(threading.current_thread())
        return 41 + 1

    task_runner.run(work, lambda result: seen.append((result, QThread.currentThread())), name="answer")
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    assert seen == [(42, qtbot_gui_thread(qtbot))]
    assert worker_threads and worker_threads[0] is not threading.main_thread()


def qtbot_gui_thread(qtbot):
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_exception_goes_to_on_error(qtbot, task_runner):
    errors: list = []
    task_runner.run(lambda: 1 / 0, lambda _r: errors.append("done?"), errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    assert isinstance(errors[0], ZeroDivisionError)


def test_cancelled_task_delivers_nothing(qtbot, task_runner):
    release = threading.Event()
    seen: list = []
    task = task_runner.run(lambda: release.wait(5) and "late", seen.append, seen.append)
    task.cancel()
    release.set()
    assert task.wait(2)
    qtbot.wait(100)
    assert seen == []
    assert task_runner.running() == 0


def test_timeout_reports_once_and_drops_the_late_result(qtbot, task_runner):
    release = threading.Event()
    seen: list = []
    task_runner.run(lambda: release.wait(5) and "late", seen.append, seen.append, name="keyring", timeout=0.1)
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    assert isinstance(seen[0], TaskTimeout) and "keyring" in str(seen[0])
    release.set()
    qtbot.wait(100)
    assert len(seen) == 1


def test_gui_stays_responsive_while_a_task_blocks(qtbot, task_runner):
    release = threading.Event()
    ticks: list = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    task_runner.run(lambda: release.wait(5))
    qtbot.wait(200)
    timer.stop()
    release.set()
    assert len(ticks) >= 5


def test_progress_is_delivered_in_order(qtbot, task_runner):
    progress: list = []
    done: list = []

    def work(task):
        for i in range(3):
            task.report(i, f"step {i}")
        return "ok"

    task_runner.run_with_task(work, done.append, on_progress=lambda v, t: progress.append((v, t)))
    qtbot.waitUntil(lambda: bool(done), timeout=2000)
    assert progress == [(0, "step 0"), (1, "step 1"), (2, "step 2")]


def test_wait_cancels_and_reports_a_stuck_task(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    seen: list = []
    runner.run(lambda: release.wait(5), seen.append)
    assert runner.wait(0.1) is False
    release.set()
    assert runner.wait(2.0) is True
    qtbot.wait(50)
    assert seen == []


def test_a_task_that_never_returns_does_not_hold_up_the_next_and_workers_are_kept(qtbot, task_runner):
    """A keyring read that hangs (a dead D-Bus service) must not delay a store write: each task runs
    at once, on a free worker or a new one. A finished task's worker takes the next task instead of a
    new thread being started for it (starting one holds the GUI thread up while replies stream)."""
    stuck = threading.Event()
    threads: list = []
    seen: list = []
    hung = task_runner.run(lambda: stuck.wait(10), name="hangs")
    task_runner.run(lambda: threads.append(threading.get_ident()) or "saved", seen.append, name="save")
    qtbot.waitUntil(lambda: seen == ["saved"], timeout=2000)
    assert hung.running
    existing = {t.ident for t in threading.enumerate()}
    task_runner.run(lambda: threads.append(threading.get_ident()) or "again", seen.append, name="save")
    qtbot.waitUntil(lambda: seen == ["saved", "again"], timeout=2000)
    assert threads[1] in existing  # a kept worker ran it: no thread was started for it
    stuck.set()
    assert hung.wait(2)
    qtbot.waitUntil(lambda: task_runner.running() == 0, timeout=2000)


def test_quit_waits_until_the_outcome_is_handed_over(qtbot, task_runner):
    """``wait()`` (quit) returns only once the worker has handed the outcome to the GUI thread:
    the interpreter and Qt shut down right after it, and a hand-over (a signal emitted) on a runner
    being torn down killed the process with SIGSEGV now and then (a SIGTERM just after a start)."""
    from PySide6.QtCore import Qt

    ended_at_handover: list[bool] = []
    task_runner._finished.connect(lambda task, _result, _error: ended_at_handover.append(task._ended.is_set()),
                                  Qt.ConnectionType.DirectConnection)  # runs on the worker, inside the emit
    task = task_runner.run(lambda: 42, lambda _result: None)
    assert task.wait(5)
    assert ended_at_handover == [False], "wait() could return while the worker was still emitting"

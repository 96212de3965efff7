"""The one place that runs background work: keyring reads, store writes, imports, exports, model lists.

Modelled on Anki's ``aqt/taskman.py`` (``run_in_background(task, on_done)``) and napari's worker
registry: a function runs on a worker thread, its result (or exception) comes back on the GUI thread
through a queued signal, and a registry of running tasks lets quit cancel and wait on all of them.

Rules it keeps:
- ``on_done`` / ``on_error`` / ``on_progress`` always run on the GUI thread, never on the worker.
- A cancelled task (``Task.cancel()``, :meth:`TaskRunner.cancel_all`) delivers nothing afterwards
  (Orange3: cancel, then disconnect, so a late result never reaches the UI). The function itself
  keeps running until it returns; long functions should poll ``task.cancelled``.
- A task given a ``timeout`` that has not finished by then delivers ``on_error(TaskTimeout)`` and
  nothing more (a keyring service that never answers must not hang the app).
- Worker threads are daemon threads, so a call that never returns (a dead D-Bus service) cannot keep
  the process alive at quit. :meth:`TaskRunner.wait` bounds how long quit waits for the rest.
- Worker threads are kept between tasks (:class:`_Workers`): starting a thread makes the caller wait
  until it runs, which while replies stream took the GUI thread 0.4 ms (median) to 3.7 ms (p99); a
  waiting worker is handed a task through a queue in microseconds. A task that never returns keeps
  its worker; the next task gets another one.

Signals (TaskRunner):
    busyChanged(int): the number of tasks still running changed (status bar, tests).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

__all__ = ["Task", "TaskRunner", "TaskTimeout", "runner", "running_tasks"]


class TaskTimeout(TimeoutError):
    """A background task did not finish within its timeout."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"{name or 'A background task'} did not finish within {seconds:g} s")
        self.name = name
        self.seconds = seconds


class Task:
    """A handle on one background call. Thread-safe: the worker reads ``cancelled`` and calls ``report``."""

    _ids = itertools.count(1)

    def __init__(self, runner: "TaskRunner", name: str) -> None:
        self.id = next(self._ids)
        self.name = name
        self._runner = runner
        self._cancelled = threading.Event()
        self._ended = threading.Event()
        #: Set (on the GUI thread) once the task's outcome was delivered or dropped.
        self.delivered = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def running(self) -> bool:
        """True while the worker function has not returned."""
        return not self._ended.is_set()

    def cancel(self) -> None:
        """Deliver nothing from now on (the function may still be running; poll ``cancelled``)."""
        self._cancelled.set()

    def report(self, value: Any = None, text: str = "") -> None:
        """From the worker: progress for ``on_progress`` (delivered on the GUI thread, coalesced by Qt)."""
        if not self.cancelled:
            self._runner._progress.emit(self, value, text)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the function returned (tests, quit). True if it did."""
        return self._ended.wait(timeout)

    def __repr__(self) -> str:  # never shows arguments: they may hold secrets
        return f"<Task {self.id} {self.name!r}{' cancelled' if self.cancelled else ''}>"


_Callbacks = tuple  # (on_done, on_error, on_progress)


class _Workers:
    """Daemon threads that run one function after another, started only when none is free."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], None], str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._free = 0  # workers waiting for a function and not yet promised one

    def submit(self, work: Callable[[], None], name: str) -> None:
        with self._lock:
            if self._free > 0:
                self._free -= 1  # promised to a waiting worker
                self._queue.put((work, name))
                return
        threading.Thread(target=self._loop, args=(work, name), name=name, daemon=True).start()

    def _loop(self, work: Callable[[], None], name: str) -> None:
        me = threading.current_thread()
        while True:
            me.name = name
            work()  # never raises: TaskRunner's function catches everything
            del work  # nothing of a finished task is kept alive by an idle worker
            me.name = "task-worker (idle)"
            with self._lock:
                self._free += 1
            work, name = self._queue.get()


_workers = _Workers()


class TaskRunner(QObject):
    """Runs functions on worker threads and hands their outcome to callbacks on the GUI thread."""

    busyChanged = Signal(int)
    # Cross-thread hand-over (queued: emitted on a worker, received on the GUI thread).
    _finished = Signal(object, object, object)  # task, result, exception
    _progress = Signal(object, object, str)  # task, value, text

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: dict[Task, _Callbacks] = {}
        self._finished.connect(self._deliver)
        self._progress.connect(self._deliver_progress)

    # -- starting ---------------------------------------------------------------------------------
    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None, *, name: str = "",
            timeout: float | None = None) -> Task:
        """Call ``fn()`` on a worker thread; ``on_done(result)`` or ``on_error(exc)`` on the GUI thread."""
        return self._start(lambda _task: fn(), on_done, on_error, None, name, timeout)

    def run_with_task(self, fn: Callable[[Task], Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None, *,
                      on_progress: Callable[[Any, str], None] | None = None, name: str = "",
                      timeout: float | None = None) -> Task:
        """Like :meth:`run`, but ``fn(task)`` can poll ``task.cancelled`` and call ``task.report(...)``."""
        return self._start(fn, on_done, on_error, on_progress, name, timeout)

    def _start(self, fn: Callable[[Task], Any], on_done, on_error, on_progress,  # noqa: ANN001
               name: str, timeout: float | None) -> Task:
        task = Task(self, name)
        self._tasks[task] = (on_done, on_error, on_progress)

        def work() -> None:
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn(task)
            except BaseException as exc:  # noqa: BLE001 - handed to on_error on the GUI thread
                error = exc
            try:
                self._finished.emit(task, result, error)
            except RuntimeError:
                pass  # the runner was deleted (application quit): nobody is left to tell
            finally:
                # Only now: quit waits for this (TaskRunner.wait) and then lets the interpreter and
                # Qt shut down. Set before the emit, a task ending at quit emitted on a runner being
                # torn down: the process died of SIGSEGV now and then (seen: SIGTERM after a start).
                task._ended.set()

        if timeout is not None:
            QTimer.singleShot(max(0, int(timeout * 1000)), self, lambda: self._timed_out(task, timeout))
        _workers.submit(work, f"task-{task.id}-{name or 'work'}")
        self.busyChanged.emit(self.running())
        return task

    # -- delivering (GUI thread) -----------------------------------------------------------------
    @Slot(object, object, object)
    def _deliver(self, task: Task, result: Any, error: BaseException | None) -> None:
        callbacks = self._tasks.pop(task, None)
        self.busyChanged.emit(self.running())
        if callbacks is None or task.delivered or task.cancelled:
            task.delivered = True
            return
        task.delivered = True
        on_done, on_error, _ = callbacks
        if error is not None:
            if on_error is None:
                raise error  # nobody asked to handle it: the application's excepthook reports it
            on_error(error)
        elif on_done is not None:
            on_done(result)

    @Slot(object, object, str)
    def _deliver_progress(self, task: Task, value: Any, text: str) -> None:
        callbacks = self._tasks.get(task)
        if callbacks is None or task.cancelled or task.delivered:
            return
        on_progress = callbacks[2]
        if on_progress is not None:
            on_progress(value, text)

    def _timed_out(self, task: Task, seconds: float) -> None:
        if task.delivered or not task.running:
            return
        callbacks = self._tasks.get(task)
        task.cancel()  # whatever it returns later is dropped
        task.delivered = True
        if callbacks is not None and callbacks[1] is not None:
            callbacks[1](TaskTimeout(task.name, seconds))

    # -- the registry ----------------------------------------------------------------------------
    def running(self) -> int:
        """How many worker functions have not returned yet."""
        return sum(1 for task in self._tasks if task.running)

    def tasks(self) -> list[Task]:
        return [task for task in self._tasks if task.running]

    def cancel_all(self) -> None:
        """Quit: nothing started so far delivers anything any more."""
        for task in list(self._tasks):
            task.cancel()

    def wait(self, timeout: float = 2.0) -> bool:
        """Cancel every task and wait (bounded) for their functions to return. True if all did."""
        self.cancel_all()
        deadline = time.monotonic() + timeout
        for task in list(self._tasks):
            if not task.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True


_runner: TaskRunner | None = None


def runner() -> TaskRunner:
    """The application's task runner (created on first use, parented to the QApplication)."""
    global _runner
    if _runner is None:
        _runner = TaskRunner(QCoreApplication.instance())
        _runner.destroyed.connect(_forget)
    return _runner


def _forget() -> None:
    global _runner
    _runner = None


def running_tasks() -> int:
    """How many tasks of the application's runner are still running (tests' leak check, quit)."""
    return _runner.running() if _runner is not None else 0

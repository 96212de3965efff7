"""The message view as a screen reader sees it: a list whose items are the messages.

The view paints its rows itself (no widget per message), so Qt's own accessible interface for it
would show only a drawing area. :func:`install` adds a factory (``QAccessible.installFactory``) that
gives every :class:`~chatbot_gui.ui.messages.view.MessagesView` a list interface (role ``List``,
named "Messages") whose children are its rows, in order: role ``ListItem``, named after the speaker
and the text ("You: …", "Assistant: …", "Notice: …", capped at :data:`NAME_CHARS` characters), with
the reply's model, time and tokens as the description, the row's place on screen as its rectangle,
and the keyboard's current message as the focused child (Up/Down move it; the view reports it with
a focus event, so Orca reads the message the keyboard is on). A reply that finishes is announced
politely (``QAccessibleAnnouncementEvent``), as a chat client's live region would be.

The app calls :func:`install` after its first paint (loading ``QAccessible`` costs ~2 ms); a view
whose plain interface an assistive technology already fetched is given the list then. Cheap by
construction: after that, nothing here runs unless an assistive technology (or a test) asks. Item
interfaces are made when asked for, read the view's rows when asked, and nothing is added to the
streaming path. Qt's interface cache owns registered interfaces; items are registered here and
deleted here (when their message leaves the view, when the view goes, when the app quits), and a
Python reference is kept until then, so neither side frees what the other still uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QPoint, QRect
from PySide6.QtGui import QAccessible, QAccessibleEvent, QAccessibleInterface
from PySide6.QtWidgets import QAccessibleWidget

if TYPE_CHECKING:
    from chatbot_gui.ui.messages.view import MessagesView

#: The longest name an item gets (a long reply is read in full through the view's copy actions).
NAME_CHARS = 2000
#: What a row of each kind is called before its text.
KIND_LABELS = {"user": "You", "assistant": "Assistant", "notice": "Notice", "error": "Error",
               "error-detail": "Error details", "countdown": "Retry", "context": "Context"}

_installed = False
_live: set[MessagesList] = set()  # the list interfaces made, until their view goes


def install(*views: MessagesView) -> None:
    """Give message views their accessible structure (the factory: once per process).

    ``views`` made before this call whose plain interface Qt has cached already (an assistive
    technology read the window) get theirs replaced, and the reader is told their children changed."""
    global _installed
    if not _installed:
        _installed = True
        QAccessible.installFactory(_factory)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(_release_all)
    if not QAccessible.isActive():
        return  # nothing was asked yet: Qt makes interfaces only for a listener (or when asked)
    for view in views:
        iface = QAccessible.queryAccessibleInterface(view)
        if iface is None or isinstance(iface, MessagesList):
            continue
        QAccessible.deleteAccessibleInterface(QAccessible.uniqueId(iface))
        QAccessible.updateAccessibility(QAccessibleEvent(view, QAccessible.Event.ObjectReorder))


def _factory(key: str, obj: QObject) -> QAccessibleInterface | None:
    from chatbot_gui.ui.messages.view import MessagesView

    if isinstance(obj, MessagesView):
        iface = MessagesList(obj)
        _live.add(iface)
        return iface
    return None


def _release_all() -> None:
    for iface in list(_live):
        iface.release()


def interface_of(view: MessagesView) -> MessagesList | None:
    """The view's list interface, when accessibility made one (tests, and the events below)."""
    iface = QAccessible.queryAccessibleInterface(view)
    return iface if isinstance(iface, MessagesList) else None


def item_name(view: MessagesView, message_id: int) -> str:
    """What a screen reader says for a row: "You: …", "Assistant: …" (capped), then its state
    ("Stopped …", "version 2 of 3"). A row already rendered (on screen, or seen lately) is read as
    shown, Markdown marks gone; one never rendered as written (rendering it just to be read would
    make a walk of a long chat as slow as laying out all of it)."""
    row = view._row(message_id)
    label = KIND_LABELS.get(row.role, row.role.capitalize())
    body = view.plain_text(message_id) if row.pieces is not None else view.delegate._answer(row)
    parts = [f"{label}: {body[:NAME_CHARS]}"]
    if row.status:
        parts.append(row.status)
    if row.versions > 1:
        parts.append(f"version {row.version} of {row.versions}")
    text = ". ".join(parts)
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"


def focus_moved(view: MessagesView) -> None:
    """The keyboard's current message changed: say so to an assistive technology listening."""
    if not QAccessible.isActive() or view._current not in view._index:
        return
    event = QAccessibleEvent(view, QAccessible.Event.Focus)
    event.setChild(view._index[view._current])
    QAccessible.updateAccessibility(event)


def announce(view: MessagesView, message_id: int) -> None:
    """A reply finished: read it out politely (after what is being read), if someone listens."""
    if not QAccessible.isActive() or message_id not in view._index:
        return
    from PySide6.QtGui import QAccessibleAnnouncementEvent

    event = QAccessibleAnnouncementEvent(view, item_name(view, message_id)[:NAME_CHARS])
    event.setPoliteness(QAccessible.AnnouncementPoliteness.Polite)
    QAccessible.updateAccessibility(event)


class MessagesList(QAccessibleWidget):
    """The view: a list of its rows (see the module docstring)."""

    def __init__(self, view: MessagesView) -> None:
        super().__init__(view, QAccessible.Role.List, "Messages")
        self._view: MessagesView | None = view
        self._items: dict[int, MessageItem] = {}  # row id -> its interface (registered)
        view.destroyed.connect(self.release)

    def release(self, *_args: Any) -> None:
        """Delete every item interface (the view is going, or the app is quitting)."""
        self._view = None
        items, self._items = self._items, {}
        for item in items.values():
            item.drop()
        _live.discard(self)

    def view(self) -> MessagesView | None:
        view = self._view
        if view is None:
            return None
        try:
            view.objectName()
        except RuntimeError:  # the C++ view is gone (its destroyed signal released us already)
            self._view = None
            return None
        return view

    # -- the list ------------------------------------------------------------------------------
    def childCount(self) -> int:  # noqa: N802 - Qt override
        view = self.view()
        return 0 if view is None else len(view._rows)

    def child(self, index: int) -> QAccessibleInterface | None:
        view = self.view()
        if view is None or not 0 <= index < len(view._rows):
            return None
        row_id = view._rows[index].id
        item = self._items.get(row_id)
        if item is None:
            self._prune(view)
            item = self._items[row_id] = MessageItem(self, row_id)
            item.register()
        return item

    def indexOfChild(self, child: QAccessibleInterface) -> int:  # noqa: N802 - Qt override
        view = self.view()
        if view is None or not isinstance(child, MessageItem):
            return -1
        return view._index.get(child.row_id, -1)

    def focusChild(self) -> QAccessibleInterface | None:  # noqa: N802 - Qt override
        view = self.view()
        if view is None or view._current not in view._index:
            return None
        return self.child(view._index[view._current])

    def childAt(self, x: int, y: int) -> QAccessibleInterface | None:  # noqa: N802 - Qt override
        view = self.view()
        if view is None or not view._rows:
            return None
        import bisect

        local = view.viewport().mapFromGlobal(QPoint(x, y))
        if not view.viewport().rect().contains(local):
            return None
        k = bisect.bisect_right(view._tops, local.y() + view.verticalScrollBar().value()) - 1
        return self.child(k) if 0 <= k < len(view._rows) else None

    def _prune(self, view: MessagesView) -> None:
        """Forget items whose message left the view (another chat opened, a message deleted)."""
        if len(self._items) < 2 * len(view._rows) + 32:
            return
        for row_id in [r for r in self._items if r not in view._index]:
            self._items.pop(row_id).drop()

    def row_rect(self, row_id: int) -> QRect:
        """Where the row is on screen (empty when it is scrolled out of sight)."""
        view = self.view()
        if view is None or row_id not in view._index:
            return QRect()
        k = view._index[row_id]
        x0, width = view._column()
        top = view._tops[k] - view.verticalScrollBar().value()
        rect = QRect(x0, top, width, view._tops[k + 1] - view._tops[k]).intersected(view.viewport().rect())
        if rect.isEmpty():
            return QRect()
        return QRect(view.viewport().mapToGlobal(rect.topLeft()), rect.size())


class MessageItem(QAccessibleInterface):
    """One row of the view: a message, a notice, an error line."""

    def __init__(self, owner: MessagesList, row_id: int) -> None:
        super().__init__()
        self._owner = owner
        self.row_id = row_id
        self._id = 0

    def register(self) -> None:
        self._id = QAccessible.registerAccessibleInterface(self)

    def drop(self) -> None:
        """Take this item out of Qt's cache (which deletes its C++ side)."""
        if self._id:
            uid, self._id = self._id, 0
            QAccessible.deleteAccessibleInterface(uid)

    def _view(self) -> MessagesView | None:
        view = self._owner.view() if self._id else None
        return view if view is not None and self.row_id in view._index else None

    def isValid(self) -> bool:  # noqa: N802 - Qt override
        return self._view() is not None

    def object(self) -> QObject | None:
        return None

    def window(self) -> Any:
        view = self._view()
        return None if view is None else view.window().windowHandle()

    def parent(self) -> QAccessibleInterface | None:
        return self._owner

    def child(self, index: int) -> QAccessibleInterface | None:
        return None

    def childCount(self) -> int:  # noqa: N802 - Qt override
        return 0

    def indexOfChild(self, child: QAccessibleInterface) -> int:  # noqa: N802 - Qt override
        return -1

    def childAt(self, x: int, y: int) -> QAccessibleInterface | None:  # noqa: N802 - Qt override
        return None

    def role(self) -> QAccessible.Role:
        return QAccessible.Role.ListItem

    def text(self, kind: QAccessible.Text) -> str:
        view = self._view()
        if view is None:
            return ""
        if kind == QAccessible.Text.Name:
            return item_name(view, self.row_id)
        if kind == QAccessible.Text.Description:
            return view._row(self.row_id).meta
        return ""

    def setText(self, kind: QAccessible.Text, text: str) -> None:  # noqa: N802 - Qt override
        pass  # read-only

    def rect(self) -> QRect:
        return self._owner.row_rect(self.row_id)

    def state(self) -> QAccessible.State:
        state = QAccessible.State()
        view = self._view()
        if view is None:
            state.invalid = True
            return state
        state.focusable = state.selectable = state.readOnly = True
        if view._current == self.row_id:
            state.selected = True
            state.focused = view.hasFocus()
        if self.rect().isEmpty():
            state.invisible = state.offscreen = True
        return state

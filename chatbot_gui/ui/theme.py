"""Light and dark appearance, in one place: the palettes, the colours the transcript uses for notes,
errors, links and search highlights, and the choice the user made (Settings > Appearance: System,
Light or Dark).

"System" follows the desktop's colour scheme (``QStyleHints.colorScheme``, Qt >= 6.5) and switches
live when it changes (``colorSchemeChanged``). The platform's own palette is kept while it already
has the wanted lightness (a KDE or GNOME colour scheme stays as the user set it); otherwise the app
sets its own light or dark palette, and from then on sets it at every switch (Qt stops updating an
application palette that was set explicitly).

Anything that draws its own colours follows :func:`theme`'s ``themeChanged`` signal, or calls
:func:`follow`, which also calls back once with the colours now in effect: the transcript does. A
view with light and dark palettes of its own (``ui/messages/view.py``'s ``MessagesView``) is
hooked up with one line where it is put into the window, and the text size likewise from
``MainWindow.zoomChanged``::

    follow(lambda colors: view.set_theme("dark" if colors.dark else "light"))
    window.zoomChanged.connect(view.set_zoom); view.set_zoom(window.zoom)
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette

__all__ = ["DARK", "LIGHT", "MODES", "Colors", "Theme", "contrast_ratio", "error_style", "follow", "palette_for", "theme"]

#: The choices Settings offers, as stored in settings.json (core.settings.THEMES).
MODES = ("system", "light", "dark")
MODE_LABELS = {"system": "System (follow the desktop)", "light": "Light", "dark": "Dark"}


class Colors(NamedTuple):
    """The colours of one appearance (WCAG contrast of text on its background >= 4.5:1)."""

    dark: bool
    window: str
    base: str  #: the transcript's and input's background
    alternate: str
    text: str
    button: str
    highlight: str  #: selected text and rows
    highlighted_text: str
    disabled_text: str
    note: str  #: notices and "Stopped" markers (italic)
    error: str  #: an error's text
    error_bg: str  #: an error's block
    link: str  #: links in the transcript ("Retry", "keep it")
    search_bg: str  #: search matches in the transcript


LIGHT = Colors(
    dark=False, window="#efefef", base="#ffffff", alternate="#f5f5f5", text="#1f1f1f", button="#efefef",
    highlight="#3070c8", highlighted_text="#ffffff", disabled_text="#8a8a8a",
    note="#5f5f5f", error="#b3261e", error_bg="#fdecea", link="#1a5fb4", search_bg="#ffe066",
)
DARK = Colors(
    dark=True, window="#2b2b2b", base="#1e1e1e", alternate="#262626", text="#e6e6e6", button="#353535",
    highlight="#3d6fb4", highlighted_text="#ffffff", disabled_text="#8a8a8a",
    note="#b0b0b0", error="#ffb4ab", error_bg="#3d1f1c", link="#8ab4f8", search_bg="#6b5600",
)


def palette_for(colors: Colors) -> QPalette:
    """A complete QPalette for ``colors`` (tooltips, placeholders and disabled states included)."""
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    text = QColor(colors.text)
    for r, value in ((role.Window, colors.window), (role.WindowText, colors.text), (role.Base, colors.base),
                     (role.AlternateBase, colors.alternate), (role.Text, colors.text),
                     (role.Button, colors.button), (role.ButtonText, colors.text),
                     (role.Highlight, colors.highlight), (role.HighlightedText, colors.highlighted_text),
                     (role.ToolTipBase, colors.base), (role.ToolTipText, colors.text),
                     (role.Link, colors.link), (role.LinkVisited, colors.link),
                     (role.PlaceholderText, colors.disabled_text), (role.BrightText, "#ff5555")):
        p.setColor(r, QColor(value))
    # Bevels and frames, derived from the button colour as Fusion does.
    button = QColor(colors.button)
    p.setColor(role.Light, button.lighter(150))
    p.setColor(role.Midlight, button.lighter(125))
    p.setColor(role.Mid, button.darker(130))
    p.setColor(role.Dark, button.darker(160))
    p.setColor(role.Shadow, QColor("#000000"))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(colors.disabled_text))
    p.setColor(group.Disabled, role.Highlight, QColor(colors.disabled_text))
    p.setColor(group.Inactive, role.Highlight, QColor(colors.highlight).darker(115 if colors.dark else 100))
    p.setColor(group.Inactive, role.HighlightedText, QColor(colors.highlighted_text))
    if text.isValid():
        p.setColor(group.Disabled, role.PlaceholderText, QColor(colors.disabled_text))
    return p


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


class Theme(QObject):
    """The appearance in effect for the application.

    Signals:
        themeChanged(object colors): the light/dark appearance changed (a :class:`Colors`); emitted
            after the application palette is set.
    """

    themeChanged = Signal(object)

    def __init__(self, app: QGuiApplication, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self._mode = mode if mode in MODES else "system"
        self._explicit = False  # True once the app set its own palette (it then keeps doing so)
        hints = app.styleHints()
        # The desktop's scheme: read once, then as colorSchemeChanged reports it.
        self._scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else None
        # A desktop that does not say its scheme (Unknown) but gives a dark palette (a dark KDE or
        # X resources theme) is dark: "System" must not force it light.
        self._platform_dark = _is_dark(app.palette())
        self._colors = DARK if self._wants_dark() else LIGHT
        if hasattr(hints, "colorSchemeChanged"):  # Qt >= 6.5
            hints.colorSchemeChanged.connect(self._system_changed)

    # -- what is in effect -----------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """"system", "light" or "dark": the user's choice."""
        return self._mode

    @property
    def colors(self) -> Colors:
        """The colours in effect now."""
        return self._colors

    @property
    def dark(self) -> bool:
        return self._colors.dark

    def system_dark(self) -> bool:
        """Whether the desktop asks for a dark appearance (when it does not say: whether the
        palette it gave the app at start is dark)."""
        if self._scheme in (Qt.ColorScheme.Dark, Qt.ColorScheme.Light):
            return self._scheme == Qt.ColorScheme.Dark
        return self._platform_dark

    def _wants_dark(self) -> bool:
        return self._mode == "dark" or (self._mode == "system" and self.system_dark())

    # -- changes ---------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Use the user's choice ("system", "light", "dark") from now on; switches at once."""
        self._mode = mode if mode in MODES else "system"
        self.apply()

    def apply(self) -> None:
        """Set the palette for the choice and the desktop's scheme; announce a change of appearance."""
        dark = self._wants_dark()
        if self._explicit or _is_dark(self._app.palette()) != dark:
            self._app.setPalette(palette_for(DARK if dark else LIGHT))
            self._explicit = True
        colors = DARK if dark else LIGHT
        if colors != self._colors:
            self._colors = colors
            self.themeChanged.emit(colors)

    def _system_changed(self, scheme: object = None) -> None:
        self._scheme = scheme
        if self._mode == "system":
            # After Qt's own palette update for the new scheme (where the platform makes one).
            QTimer.singleShot(0, self.apply)


def error_style() -> str:
    """A style sheet for a label that reports a problem, in the appearance now in effect (a fixed
    dark red is unreadable on a dark window)."""
    return f"color: {theme().colors.error};"


_THEME: Theme | None = None


def theme() -> Theme:
    """The application's :class:`Theme` (created with mode "system" on first use; the
    QGuiApplication must exist)."""
    global _THEME
    app = QGuiApplication.instance()
    try:
        current = _THEME is not None and _THEME.parent() is app
    except RuntimeError:  # the application it belonged to is gone
        current = False
    if not current:
        _THEME = Theme(app)  # type: ignore[arg-type]
    return _THEME  # type: ignore[return-value]


def follow(callback: Callable[[Colors], object]) -> None:
    """Call ``callback(colors)`` now and whenever the appearance changes. A bound method of a
    QObject is disconnected when that object is deleted (PySide6 connects it with the object as
    the receiver)."""
    current = theme()
    current.themeChanged.connect(callback)
    callback(current.colors)


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two opaque colours (1 to 21)."""
    def lum(c: QColor) -> float:
        def f(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * f(c.redF()) + 0.7152 * f(c.greenF()) + 0.0722 * f(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)

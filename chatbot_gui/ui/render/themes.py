"""The message view's light and dark colours (no imports: the view reads them before any Markdown
library or renderer is loaded, so building the window costs nothing extra)."""

from __future__ import annotations

THEMES: dict[str, dict[str, str]] = {
    "light": {
        "text": "#1f2328", "muted": "#6e7781", "link": "#0969da", "code_bg": "#f6f8fa",
        "code_head": "#eaeef2", "border": "#d0d7de", "inline_code_bg": "#eff1f3",
        "pygments": "default", "bubble": "#f0f0f0", "background": "#ffffff",
        "selection": "#b6d7ff", "focus": "#0969da", "error": "#b3261e",
        "error_bg": "#fdecea", "highlight": "#ffe066",
    },
    "dark": {
        "text": "#e6edf3", "muted": "#8d96a0", "link": "#4493f8", "code_bg": "#161b22",
        "code_head": "#262c36", "border": "#3d444d", "inline_code_bg": "#2a2f37",
        "pygments": "github-dark", "bubble": "#2f2f2f", "background": "#212121",
        "selection": "#264f78", "focus": "#4493f8", "error": "#f85149",
        "error_bg": "#3b1d1d", "highlight": "#6b5a00",
    },
}

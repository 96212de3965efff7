"""Where a connection goes and how long it waits unless a profile says otherwise.

Apart from :mod:`chatbot_gui.core.connection` so that the settings (read before the first paint)
can use them without building ``ConnectionConfig``, which nothing needs before the first request.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Longest silence between two chunks before a reply is abandoned (not a limit on the whole reply).
DEFAULT_READ_TIMEOUT = 120.0
DEFAULT_CONNECT_TIMEOUT = 15.0

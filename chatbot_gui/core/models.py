"""Ask a server which models it offers (``GET /models``): for "Test connection" and the model picker.

Blocking and Qt-free: call it on a worker thread. It raises whatever the SDK raises; the caller
turns that into words with :func:`chatbot_gui.core.errors.describe_exception`.
"""

from __future__ import annotations

from chatbot_gui.core.connection import ConnectionConfig
from chatbot_gui.core.limits import DEFAULT_LIMITS, Limits
from chatbot_gui.core.streaming import AbortHandle, make_client
from chatbot_gui.core.unicode import clean_text


def fetch_models(config: ConnectionConfig, abort: AbortHandle | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """The model ids the server lists, sorted and without duplicates.

    ``abort`` lets another thread hang up at once (see :class:`AbortHandle`); the body is held to
    ``limits`` (a broken server cannot send an endless list).
    """
    client = make_client(config, abort or AbortHandle(), limits)
    try:
        # A model id is shown, saved in settings and sent back: no lone surrogates (core/unicode.py).
        ids = {clean_text(str(model.id)) for model in client.models.list() if getattr(model, "id", None)}
    finally:
        client.close()
    return sorted(ids, key=str.casefold)

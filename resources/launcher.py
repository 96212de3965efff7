"""Entry script of the frozen app (build.spec): the app, or one of its hidden diagnostics.

``--self-check`` and ``--startup-probe`` (chatbot_gui/selfcheck.py) are routed here, before any Qt
import, so the diagnostics run in the very executable users get without a change to the app's own
start-up code. Everything else goes to ``chatbot_gui.app.main()``, as ``python -m chatbot_gui`` does.
"""

import sys


def _run() -> int:
    if any(arg in ("--self-check", "--startup-probe") for arg in sys.argv[1:2]):
        from chatbot_gui.selfcheck import main as self_check

        return self_check(sys.argv[1:])
    from chatbot_gui.app import main

    return main()


if __name__ == "__main__":
    raise SystemExit(_run())

"""``python -m chatbot_gui`` starts the desktop app."""

from chatbot_gui.app import main

raise SystemExit(main())

"""``python -m chatbot_gui.ui.messages --demo [--dark] [--shot FILE]``: the message view with a sample chat."""

from chatbot_gui.ui.messages.demo import cli

cli()

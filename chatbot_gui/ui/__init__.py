"""Widgets, the completion thread and the controller that connects them to the core."""

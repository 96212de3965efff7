"""Everything that is not a widget. Never imports PySide6 (an import-linter contract keeps it so)."""

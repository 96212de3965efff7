"""Accessible names for controls whose visible label does not name them for a screen reader.

Qt names a control after its text (buttons, check boxes) or the label whose buddy it is (form rows
with a text label); a picker would otherwise be read as its current entry, and a field in a row
with other widgets, or one with no label at all, as nothing. Names are given here by object name,
in one table per dialog, so the dialogs' layout code stays as it is.
``tests/test_accessibility.py`` walks the main window and the Settings dialog and fails on an
interactive control without a name.
"""

from __future__ import annotations

from typing import Mapping

from PySide6.QtWidgets import QWidget

#: Settings dialog: object name -> (accessible name, description or "").
SETTINGS_NAMES: Mapping[str, tuple[str, str]] = {
    "profileCombo": ("Connection profile", "The profile to edit and use"),
    "addProfile": ("Add profile", ""),
    "deleteProfile": ("Delete profile", ""),
    "preset": ("Server preset", "OpenAI, Ollama, LM Studio, OpenRouter or a custom address"),
    "baseUrl": ("Server address", "The API's base address, for example http://localhost:11434/v1"),
    "apiKey": ("API key", "Saved only in the system keyring"),
    "showKey": ("Show the API key", ""),
    "removeKey": ("Remove the saved key", ""),
    "personaList": ("Personas", "The persona library; the default one is marked"),
    "personaName": ("Persona name", ""),
    "systemPrompt": ("System prompt", "Empty: no system message is sent"),
    "personaModel": ("Persona's model", "Empty: the chat's model"),
    "temperature": ("Temperature", "Lower is more focused, higher more varied"),
    "useTemperature": ("Set a temperature", ""),
    "maxTokens": ("Reply length limit in tokens", ""),
    "useMaxTokens": ("Limit the reply length", ""),
    "settingsPages": ("Settings pages", ""),
}


def name_controls(root: QWidget, names: Mapping[str, tuple[str, str]]) -> None:
    """Give ``root``'s children listed in ``names`` (by object name) their accessible name and
    description; a name set in the widget's own code wins."""
    for widget in root.findChildren(QWidget):
        entry = names.get(widget.objectName())
        if entry is None:
            continue
        name, description = entry
        if not widget.accessibleName():
            widget.setAccessibleName(name)
        if description and not widget.accessibleDescription():
            widget.setAccessibleDescription(description)

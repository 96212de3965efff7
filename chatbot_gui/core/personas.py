"""Personas: a named system prompt with optional model and parameters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    """A preset that sets the assistant's behaviour. An empty system prompt sends no system message."""

    name: str
    system_prompt: str
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


#: The original terminal script's three examples.
BUILTIN_PERSONAS: tuple[Persona, ...] = (
    Persona("Helpful assistant", "You are a helpful assistant."),
    Persona("Sarcastic assistant", "You are a sarcastic assistant."),
    Persona(
        "French assistant",
        "You are a French assistant. You only speak and respond in French.",
    ),
)

DEFAULT_MODEL = "gpt-4o-mini"

"""Chatbot: a desktop chat client for OpenAI-compatible Chat Completions servers."""

__version__ = "0.1.0"
APP_NAME = "Chatbot"

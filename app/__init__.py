"""Longhand: write very long texts with a local LLM, section by section (AgentWrite)."""

__version__ = "0.1.0"
APP_NAME = "Longhand"

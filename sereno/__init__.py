"""Sereno: document violence and corruption safely, warn early, find help."""

__version__ = "0.1.0"

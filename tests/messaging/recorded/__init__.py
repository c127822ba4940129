"""Payloads in each provider's documented format, and a local stand-in for their HTTP APIs."""

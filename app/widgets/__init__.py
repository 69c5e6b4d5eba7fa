"""Reusable Qt widgets of the window: each one shows one thing and knows nothing about the engine's jobs."""

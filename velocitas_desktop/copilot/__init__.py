"""copilot layer."""

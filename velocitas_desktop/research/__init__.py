"""research layer."""

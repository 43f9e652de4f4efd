"""The built-in strategies, shipped inside the package as ``velocitas_desktop.builtin_strategies``."""

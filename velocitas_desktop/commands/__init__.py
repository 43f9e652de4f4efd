"""Subcommands of ``velocitas`` beyond run and gui, one module each."""

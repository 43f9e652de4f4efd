"""``python -m velocitas_desktop`` runs the ``velocitas`` command; so does the desktop bundle's
executable, which PyInstaller builds from this file (packaging/velocitas.spec)."""

import multiprocessing

if __name__ == "__main__":
    # First, before the command line or Qt is imported: in the bundle, the engine's host
    # process, the strategy workers and the optimiser's pool are this same executable started
    # with multiprocessing's arguments, and freeze_support runs their task and exits there,
    # so a child never opens a window. Outside a bundle it does nothing.
    multiprocessing.freeze_support()

    from velocitas_desktop.cli import main

    raise SystemExit(main())

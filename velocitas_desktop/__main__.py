"""``python -m velocitas_desktop`` runs the ``velocitas`` command."""

from velocitas_desktop.cli import main

raise SystemExit(main())

"""The desktop terminal (PySide6 + pyqtgraph), one view of the engine; start it with app.run_gui."""

"""Is the blotter bounded? The window's memory while three million fills pass through it.

The blotter keeps the newest BLOTTER_ROWS fills (gui/panels.py) and drops the oldest tenth
when it is full. This feeds SYNTHETIC fills (shaped like the engine's, bench/gui.py's) through
its public add_trades/flush API, 50,000 at a time as a fast session's backlog arrives, and
prints a row every 250,000: rows held, fills counted, the window process's resident memory,
and the slowest flush so far (the flush that drops the oldest tenth moves the rest once).
Flat means the last rows' memory stays within a few MB of the row where the bound was reached.

Run: QT_QPA_PLATFORM=offscreen python bench/blotter.py [--fills 3000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gui import rss_mb, synthetic_trades

BATCH = 50_000
EVERY = 250_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fills", type=int, default=3_000_000)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from velocitas_desktop.gui import panels

    app = QApplication.instance() or QApplication([])
    blotter = panels.BlotterPanel()
    blotter.resize(900, 500)
    blotter.show()
    app.processEvents()
    rows = [("fills made", "rows held", "fills counted", "RSS MB", "slowest flush ms")]
    slowest = 0.0
    for start in range(0, args.fills, BATCH):
        blotter.add_trades(synthetic_trades(start, min(BATCH, args.fills - start)))
        began = time.perf_counter()
        blotter.flush()
        slowest = max(slowest, (time.perf_counter() - began) * 1000)
        app.processEvents()
        made = start + BATCH
        if made % EVERY == 0 or made >= args.fills:
            rows.append((f"{min(made, args.fills):,}", f"{blotter.model.total_rows:,}",
                         f"{blotter.fills:,}", f"{rss_mb():,.0f}", f"{slowest:,.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)))
    print(f"\nbound: {panels.BLOTTER_ROWS:,} rows (+{panels.BLOTTER_SLACK:,} before the oldest "
          "tenth leaves)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

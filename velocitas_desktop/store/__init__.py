"""The journal: every session's trades, P&L history and strategy specs, in SQLite."""

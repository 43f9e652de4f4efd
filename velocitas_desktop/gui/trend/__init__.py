"""The Trend tab's parts: the level-of-detail chart, its declared tables and the Apply dialog."""

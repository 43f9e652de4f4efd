"""The Optimisation tab's parts: pure helpers, table columns, the heatmap and the equity chart."""

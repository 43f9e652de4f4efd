"""The Optimisation tab's parts: its pure helpers, the heatmap and the equity chart."""

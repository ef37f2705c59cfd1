"""Figures for the metric comparison ("Which loss?") and the aggregate-individual link."""

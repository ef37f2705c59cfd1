"""Figures for the aggregate part of the kit."""

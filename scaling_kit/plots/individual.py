"""Figures for the individual part of the kit."""

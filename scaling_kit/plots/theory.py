"""Figures for the theory part of the kit."""

"""Figures for the engine part of the kit."""

"""Figures for the valuation part of the kit."""

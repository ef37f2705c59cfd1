"""Figures for the estimators part of the kit."""

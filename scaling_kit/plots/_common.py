"""Small helpers shared by the plot modules."""

from __future__ import annotations

import matplotlib.pyplot as plt


def axes_or_new(ax=None, figsize=None, **subplots_kw):
    """Return ``(figure, ax)``: the given Axes and its figure, or a new figure with one Axes."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, **subplots_kw)
        return fig, ax
    return ax.figure, ax

"""The one ``summary()`` type of the kit: text in a terminal, HTML in Jupyter.

Every results object's ``summary()`` returns a :class:`Summary`: a title, a few key-value
facts, one or more tables (pandas DataFrames) and notes. ``print(summary)`` shows plain text;
Jupyter renders ``_repr_html_``; ``summary.tables`` holds the DataFrames for further work
(statsmodels' ``Summary`` is the model).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Summary"]


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass
class Summary:
    """A printable, HTML-renderable summary of a result.

    Attributes
    ----------
    title : one line naming what was fitted or computed.
    facts : ordered ``{name: value}`` pairs shown under the title (sizes, fit statistics).
    tables : ordered ``{caption: DataFrame}``.
    notes : free-text lines shown last (caveats, what a status means).
    """

    title: str
    facts: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """The first table (most summaries have one)."""
        if not self.tables:
            raise AttributeError("This summary has no table.")
        return next(iter(self.tables.values()))

    def as_text(self) -> str:
        """The summary as plain text: title, facts, each table with its caption, notes."""
        lines = [self.title, "=" * min(len(self.title), 88)]
        if self.facts:
            lines.append(", ".join(f"{k} = {_fmt(v)}" for k, v in self.facts.items()))
        for caption, frame in self.tables.items():
            lines += ["", caption] if caption else [""]
            lines.append(frame.to_string(float_format=lambda v: f"{v:.6g}"))
        if self.notes:
            lines.append("")
            lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        parts = [f"<h4>{html.escape(self.title)}</h4>"]
        if self.facts:
            items = "".join(
                f"<li><b>{html.escape(str(k))}</b> = {html.escape(_fmt(v))}</li>"
                for k, v in self.facts.items()
            )
            parts.append(f"<ul>{items}</ul>")
        for caption, frame in self.tables.items():
            if caption:
                parts.append(f"<p><i>{html.escape(caption)}</i></p>")
            parts.append(frame.to_html(float_format=lambda v: f"{v:.6g}"))
        for note in self.notes:
            parts.append(f"<p><small>Note: {html.escape(note)}</small></p>")
        return "\n".join(parts)

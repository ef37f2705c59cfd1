"""The README's Python examples run as written and give what the README says they give."""

import re
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_contributions_example_runs_and_summarizes_every_point_and_size():
    (block,) = [b for b in _python_blocks() if "sample_contributions" in b]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    summary = namespace["summary"]
    assert isinstance(summary, pd.DataFrame)
    assert {"mean", "std", "count", "sem"} <= set(summary.columns)
    # 20 points x 3 sizes, 200 samples each, as the example's comment says
    assert len(summary) == 60 and (summary["count"] == 200).all()
    # each point's contribution shrinks in size with k (the individualized law, alpha > 0):
    # the typical |mean| over the 20 points falls from each size to the next
    by_k = summary["mean"].abs().groupby(level="k").median()
    assert by_k.loc[50] > by_k.loc[100] > by_k.loc[200] > 0

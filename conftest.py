"""pytest setup for the whole suite, tests/ and the notebooks (nbval).

Figures go to a scratch folder unless SCALING_KIT_FIGURES is set: running the tests or the
notebooks under pytest never rewrites the committed gallery in figures/. The notebooks' kernels
inherit the variable. (tests/conftest.py holds the fixtures; `from conftest import ...` in
tests/ still finds that one, which pytest imports after this file.)
"""

import os
import tempfile

if not os.environ.get("SCALING_KIT_FIGURES"):
    os.environ["SCALING_KIT_FIGURES"] = tempfile.mkdtemp(prefix="scaling-kit-figures-")

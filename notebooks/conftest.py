"""pytest setup for the notebooks (nbval).

Figures go to a scratch folder unless SCALING_KIT_FIGURES is set: running the notebooks under
pytest never rewrites the committed gallery in figures/. The notebooks' kernels inherit the
variable.
"""

import os
import tempfile

if not os.environ.get("SCALING_KIT_FIGURES"):
    os.environ["SCALING_KIT_FIGURES"] = tempfile.mkdtemp(prefix="scaling-kit-figures-")

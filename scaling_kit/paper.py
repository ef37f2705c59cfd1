"""Numbers reported in the source documents, kept *beside* ours (never in place of them).

Sources: Covert, Ji, Hashimoto & Zou, "Scaling Laws for the Value of Individual Data Points in
Machine Learning", ICML 2024 (tables cited by number); Hestness et al., "Deep Learning Scaling
is Predictable, Empirically", 2017 (exponents quoted in the lecture slides).
"""

import pandas as pd

#: Hestness et al. (2017) generalization-error exponents beta_g.
HESTNESS_EXPONENTS = {
    "machine translation": (-0.128, -0.128),
    "language modelling": (-0.09, -0.06),
    "image classification (top-1 .. top-5)": (-0.309, -0.488),
    "speech recognition": (-0.299, -0.299),
}

#: Covert et al. Table 1: R^2 of the log-linear individualized law.
TABLE1_R2 = pd.DataFrame(
    {"LogReg": [0.993, 0.944, 0.985], "MLP": [0.963, 0.942, 0.956], "SVM": [0.929, 0.963, 0.946]},
    index=pd.Index(["MiniBooNE", "CIFAR-10", "IMDB"], name="dataset"),
)

#: Covert et al. Table 2: correlation of alpha between model types.
TABLE2_ALPHA_CORR = pd.DataFrame(
    {
        "LogReg-MLP": [-0.01, 0.38, 0.49],
        "LogReg-SVM": [0.18, 0.26, 0.50],
        "MLP-SVM": [-0.04, 0.34, 0.27],
    },
    index=pd.Index(["MiniBooNE", "CIFAR-10", "IMDB"], name="dataset"),
)

#: Covert et al. Tables 3 / 4: Pearson correlation with ground-truth distributional Shapley
#: values, with 10 (Table 3) and 50 (Table 4) samples per point.
TABLE3_4_SHAPLEY_PEARSON = pd.DataFrame(
    {
        ("10 samples", "MiniBooNE"): [0.967, 0.858, 0.994],
        ("10 samples", "CIFAR-10"): [0.857, 0.077, 0.893],
        ("10 samples", "IMDB"): [0.916, 0.342, 0.930],
        ("50 samples", "MiniBooNE"): [0.988, 0.995, 0.996],
        ("50 samples", "CIFAR-10"): [0.965, 0.936, 0.931],
        ("50 samples", "IMDB"): [0.981, 0.985, 0.986],
    },
    index=pd.Index(["Monte Carlo", "Likelihood", "Amortized"], name="estimator"),
)

#: Mode of alpha reported by Covert et al. (Section 4.1).
ALPHA_MODE_RANGE = (1.0, 1.5)

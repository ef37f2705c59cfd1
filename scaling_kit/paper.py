"""Numbers reported in the source documents, kept *beside* ours (never in place of them).

Sources: Covert, Ji, Hashimoto & Zou, "Scaling Laws for the Value of Individual Data Points in
Machine Learning", ICML 2024 (tables cited by number); Hestness et al., "Deep Learning Scaling
is Predictable, Empirically", 2017 (exponents quoted in the lecture slides).
"""

import pandas as pd

__all__ = [
    "ALPHA_MODE_RANGE",
    "HESTNESS_EXPONENTS",
    "POINT_ADDITION_TABLES",
    "TABLE1_R2",
    "TABLE2_ALPHA_CORR",
    "TABLE3_4_SHAPLEY_PEARSON",
    "TABLE5_ADDITION_100",
    "TABLE6_ADDITION_1000",
    "TABLE7_ADDITION_200",
    "TABLE8_ADDITION_2000",
]

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


def _addition_table(rows: dict) -> pd.DataFrame:
    """Methods (rows) by (dataset, mean/std) columns, from ``{method: [m, s, m, s, m, s]}``."""
    columns = pd.MultiIndex.from_product([["MiniBooNE", "CIFAR-10", "IMDB"], ["mean", "std"]],
                                         names=["dataset", "statistic"])
    return pd.DataFrame(list(rows.values()), index=pd.Index(list(rows), name="method"),
                        columns=columns)


#: Covert et al. Table 5: accuracy gain (percentage points; mean and standard deviation over
#: 1000 repetitions) from adding 20 of 1000 candidate points to a random dataset of size 100.
#: "Preceding" is the accuracy (%) of the model fit on the preceding dataset alone.
TABLE5_ADDITION_100 = _addition_table({
    "Scaling 1000": [0.21, 1.03, 1.99, 0.97, 0.88, 0.96],
    "Scaling 100": [0.47, 1.02, 3.28, 1.09, 2.22, 0.86],
    "Shapley": [0.28, 1.02, 2.06, 0.92, 0.77, 1.20],
    "Random": [0.44, 0.91, 2.01, 1.09, 1.00, 0.85],
    "Preceding": [80.76, 1.58, 75.50, 1.97, 78.77, 1.64],
})

#: Covert et al. Table 6: as Table 5 with preceding datasets of size 1000.
TABLE6_ADDITION_1000 = _addition_table({
    "Scaling 1000": [0.20, 0.39, 0.17, 0.14, 0.13, 0.10],
    "Scaling 100": [0.21, 0.34, 0.05, 0.06, 0.06, 0.05],
    "Shapley": [0.22, 0.36, 0.18, 0.14, 0.11, 0.09],
    "Random": [0.03, 0.20, 0.04, 0.13, 0.03, 0.10],
    "Preceding": [83.92, 0.46, 85.38, 0.40, 85.45, 0.35],
})

#: Covert et al. Table 7 (Appendix C.4): preceding datasets of size 200; laws evaluated at
#: 200 and 2000 ("Scaling 200", "Scaling 2000").
TABLE7_ADDITION_200 = _addition_table({
    "Scaling 2000": [0.27, 0.95, 1.51, 0.58, 0.71, 0.68],
    "Scaling 200": [0.33, 0.98, 2.04, 0.59, 1.55, 0.61],
    "Shapley": [0.28, 0.99, 1.50, 0.58, 1.19, 0.67],
    "Random": [0.44, 0.68, 1.16, 0.57, 0.73, 0.53],
    "Preceding": [81.99, 0.97, 80.51, 0.97, 81.71, 0.94],
})

#: Covert et al. Table 8 (Appendix C.4): preceding datasets of size 2000.
TABLE8_ADDITION_2000 = _addition_table({
    "Scaling 2000": [0.15, 0.33, 0.16, 0.13, 0.09, 0.09],
    "Scaling 200": [0.14, 0.32, 0.11, 0.10, 0.06, 0.06],
    "Shapley": [0.14, 0.32, 0.14, 0.13, 0.08, 0.06],
    "Random": [0.01, 0.17, 0.05, 0.13, 0.03, 0.09],
    "Preceding": [84.51, 0.37, 86.39, 0.35, 86.38, 0.24],
})

#: Tables 5-8 by preceding-dataset size k0.
POINT_ADDITION_TABLES = {
    100: TABLE5_ADDITION_100,
    1000: TABLE6_ADDITION_1000,
    200: TABLE7_ADDITION_200,
    2000: TABLE8_ADDITION_2000,
}

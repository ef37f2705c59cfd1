"""The paper's learners as its public code trains them, with the contribution options it used.

Covert et al. (ICML 2024) give few hyperparameters in the text (Appendix C.1); the public code
(github.com/iancovert/data-scaling, ``experiments/utils.py``, ``get_experiment_mediator``, on top
of OpenDataVal's models and Intel's scikit-learn extension) has them. Each function returns a
:class:`Recipe`: a configured learner for :func:`scaling_kit.contributions.sample_contributions`,
the keyword options the code's sampler corresponds to (``metric="softmax_ce"``: the code's
``cross_entropy_loss`` applies ``torch.nn.functional.cross_entropy`` to predicted
probabilities; ``allow_z_in_D=True``: D is drawn from the whole training set, so z may already
be in D), and where each setting comes from.

* :func:`paper_mlp`: model ``"mlp"``, OpenDataVal's ``ClassifierMLP(hidden_dim=32, layers=3)``
  (two hidden layers of 32), Adam at OpenDataVal's default learning rate 0.01, no weight decay,
  ``epochs=25, batch_size=1280``, loss on the softmax outputs, ``torch.manual_seed(0)`` once and
  a deep copy of that network for every fit (:meth:`BatchedMLPClassifier.reference`).
* :func:`paper_skmlp`: model ``"skmlp"``, scikit-learn's ``MLPClassifier`` with one hidden
  layer of 32, ``alpha=0.01``, ``learning_rate_init=0.01``, ``max_iter=200``,
  ``batch_size=1280``, ``random_state=0`` (the text's "width 32, weight decay, Adam ... run with
  scikit-learn" reads like this one; the code defines both).
* :func:`paper_svm`: ``daal4py.sklearn.svm.SVC(probability=True, C=1, random_state=0)``, whose
  probabilities are ``CalibratedClassifierCV(SVC(probability=False,
  decision_function_shape="ovr"), method="sigmoid", ensemble=False,
  cv=StratifiedKFold(5, shuffle=True, random_state=0))`` (Intel's ``daal4py/sklearn/svm/svm.py``
  from late 2020 on), *not* libsvm's Platt scaling with pairwise coupling that scikit-learn's own
  ``SVC(probability=True)`` does (deprecated in scikit-learn 1.9). Built here from scikit-learn
  parts; the only difference left is the SVM solver (oneDAL's instead of libsvm's, same dual
  problem, same tolerance 1e-3).
* :func:`paper_logistic`: OpenDataVal's ``ClassifierSkLearnWrapper(LogisticRegression)`` with
  scikit-learn's defaults (``C=1``, L-BFGS stopped at ``tol=1e-4``, ``max_iter=100``). By
  default the kit's :class:`~scaling_kit.learners.ExactLogisticRegression` with ``C=1``: the same
  objective solved to machine precision (and fast in the contribution engine); ``exact=False``
  gives scikit-learn's estimator as the code ran it.

The code's validation sampler draws one D per (point, size, sample) (``share_datasets=False``
in the kit); sharing each D across points (the kit's default) gives every point the same
distribution of contributions, at a fraction of the fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .results import Summary

__all__ = [
    "PAPER_OPTIONS",
    "Recipe",
    "paper_logistic",
    "paper_mlp",
    "paper_skmlp",
    "paper_svm",
]

#: ``sample_contributions`` options matching the reference code's sampler
PAPER_OPTIONS = {"metric": "softmax_ce", "allow_z_in_D": True}

_CODE = "iancovert/data-scaling experiments/utils.py"
_ODV = "opendataval/opendataval"


@dataclass(frozen=True)
class Recipe:
    """A learner configured as the paper's code trains it, and the options of its sampler.

    Use as ``sample_contributions(recipe.learner, ..., **recipe.options)``. ``settings`` is a
    table of (setting, value, source) rows; ``notes`` what differs from the reference run.
    """

    name: str
    learner: object
    options: dict
    settings: pd.DataFrame
    notes: tuple = field(default_factory=tuple)

    def summary(self) -> Summary:
        """The recipe's settings with their sources in the reference code, and its notes."""
        return Summary(title=f"Recipe: {self.name}", facts=dict(self.options),
                       tables={"Settings and where they come from": self.settings},
                       notes=list(self.notes))


def _settings(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["setting", "value", "source"]).set_index("setting")


def paper_mlp(**overrides) -> Recipe:
    """The reference code's MLP (model ``"mlp"``) as a batched learner; ``overrides`` go to
    :meth:`scaling_kit.mlp.BatchedMLPClassifier.reference` (e.g. ``dtype``, ``device``)."""
    from .mlp import BatchedMLPClassifier

    learner = BatchedMLPClassifier.reference(**overrides)
    settings = _settings([
        ("architecture", "Linear(d, 32), ReLU, Linear(32, 32), ReLU, Linear(32, K), Softmax",
         f"{_CODE}: ClassifierMLP(hidden_dim=32, layers=3); {_ODV} opendataval/model/mlp.py"),
        ("optimizer", "Adam, lr 0.01, betas (0.9, 0.999), no weight decay",
         f"{_ODV} opendataval/model/api.py: TorchClassMixin.fit (lr default 0.01)"),
        ("budget", "25 epochs, batch size 1280: one full-batch step per epoch for k < 1280",
         f"{_CODE}: train_kwargs = {{'epochs': 25, 'batch_size': 1280}}"),
        ("training loss", "binary_cross_entropy(probabilities, one-hot) for K = 2 (the log "
         "loss); cross_entropy(probabilities, one-hot) for K > 2 (softmax_ce)",
         f"{_ODV} opendataval/model/api.py: TorchClassMixin.fit"),
        ("initialization", "torch.manual_seed(0) once, every fit from a deep copy of one network",
         f"{_CODE} ('Fix initialization to reduce variance'); Model.clone = copy.deepcopy"),
        ("test metric", "cross_entropy(predicted probabilities, one-hot) = softmax_ce",
         f"{_CODE}: cross_entropy_loss"),
        ("datasets D", "class-proportional draw from the whole training set (z may be in D)",
         f"{_CODE}: sample_dataset, DistributionalCardinalityListSampler"),
    ])
    notes = ("The reference ran in float32 on a GPU; the kit trains in float64 by default "
             "(dtype='float32' for the reference's precision).",)
    return Recipe("paper MLP (reference code model 'mlp')", learner, dict(PAPER_OPTIONS),
                  settings, notes)


def paper_skmlp() -> Recipe:
    """The reference code's scikit-learn MLP (model ``"skmlp"``): ``MLPClassifier`` as it ran."""
    from sklearn.neural_network import MLPClassifier

    learner = MLPClassifier(hidden_layer_sizes=(32,), alpha=0.01, learning_rate_init=0.01,
                            max_iter=200, batch_size=1280, random_state=0)
    settings = _settings([
        ("architecture", "one hidden ReLU layer of 32 (scikit-learn MLPClassifier)",
         f"{_CODE}: ModelFactory('skmlp', hidden_layer_sizes=(32,))"),
        ("optimizer", "Adam (scikit-learn's), learning_rate_init 0.01, alpha 0.01",
         f"{_CODE}: learning_rate_init=0.01, alpha=0.01"),
        ("budget", "max_iter 200 epochs, batch_size 1280 (clipped to k), early stop at tol 1e-4 "
         "after 10 epochs without improvement", f"{_CODE}: max_iter=200, batch_size=1280"),
        ("initialization", "random_state=0: the same initialization for every fit",
         f"{_CODE}: random_state=0"),
    ])
    notes = ("scikit-learn warns at every fit that batch_size 1280 is clipped to k and, when 200 "
             "epochs end before its tolerance, that the optimizer did not converge.",)
    return Recipe("paper scikit-learn MLP (reference code model 'skmlp')", learner,
                  dict(PAPER_OPTIONS), settings, notes)


def paper_svm(*, random_state=0) -> Recipe:
    """The reference code's RBF SVM with probabilities, rebuilt from scikit-learn parts.

    ``random_state`` seeds the shuffled 5-fold split of the calibration (the code: 0).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import SVC

    learner = CalibratedClassifierCV(
        SVC(C=1.0, kernel="rbf", gamma="scale", decision_function_shape="ovr"),
        method="sigmoid", ensemble=False,
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state),
    )
    settings = _settings([
        ("model", "daal4py.sklearn.svm.SVC(probability=True, C=1, random_state=0), RBF kernel, "
         "gamma 'scale'", f"{_CODE}: sklearn_model('sksvm', probability=True, C=1, "
         "random_state=0)"),
        ("probabilities", "CalibratedClassifierCV(SVC(decision_function_shape='ovr'), "
         "method='sigmoid', ensemble=False, cv=StratifiedKFold(5, shuffle=True, random_state=0))",
         "intel/scikit-learn-intelex daal4py/sklearn/svm/svm.py (fit, probability branch)"),
    ])
    notes = ("Intel's SVC solves the SVM dual with oneDAL; scikit-learn's SVC with libsvm "
             "(same problem and tolerance: decision values agree to solver tolerance).",)
    return Recipe("paper SVM (reference code model 'svm')", learner, dict(PAPER_OPTIONS),
                  settings, notes)


def paper_logistic(*, exact=True) -> Recipe:
    """The reference code's logistic regression (scikit-learn defaults, C = 1).

    ``exact=True``: the kit's exact solver of the same objective; ``False``: scikit-learn's
    ``LogisticRegression()`` (L-BFGS to ``tol=1e-4``) as the code ran it.
    """
    if exact:
        from .learners import ExactLogisticRegression

        learner = ExactLogisticRegression(C=1.0)
    else:
        from sklearn.linear_model import LogisticRegression

        learner = LogisticRegression()
    settings = _settings([
        ("model", "scikit-learn LogisticRegression() defaults: L2, C = 1, lbfgs, tol 1e-4, "
         "max_iter 100", f"{_CODE}: ModelFactory('sklogreg'); {_ODV} "
         "opendataval/model/__init__.py: ClassifierSkLearnWrapper(LogisticRegression)"),
        ("solver here", "exact Newton to machine precision" if exact else "as the code ran it",
         "scaling_kit.learners.ExactLogisticRegression" if exact else "scikit-learn"),
    ])
    return Recipe("paper logistic regression (reference code model 'logreg')", learner,
                  dict(PAPER_OPTIONS), settings)

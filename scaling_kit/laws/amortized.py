"""Amortized estimation of individualized scaling laws (docs/math.md §5; Covert et al., ICML
2024, Section 3.2, Eq. 8, and Appendix B).

One network ``g(x, y)`` maps a data point (features ``x``, label ``y``) to its law's parameters
``(s, log|c|, log alpha, log sigma, log beta)``: the MLP predicts the five numbers for every
class and the label selects one set (as in the paper). It is trained on all points' sampled
contributions at once with the Gaussian likelihood of :mod:`.likelihood`::

    Delta_ij ~ Normal(c_i k_ij^-alpha_i, sigma_i^2 k_ij^-beta_i),  (c_i, ...) = g(x_i, y_i)

so strength is shared across points and ~10 samples a point suffice. Following Appendix B:

* the sign and the magnitude of ``c`` are predicted separately. For each point the Gaussian
  negative log-likelihood is evaluated with both signs, the smaller one is the fit term and
  the chosen sign is the target of a logistic loss on ``s`` (prediction: ``sign(c) = sign(s)``);
* ``log beta`` is clamped at ``log_beta_max`` (paper: 2) so that the predicted variance does
  not collapse at large k, and ``log alpha`` to the same box as the MLE;
* a small prior ``alpha_penalty * (alpha - 1)^2`` and gradient-norm clipping stabilize training;
* AdamW with a cosine learning-rate schedule over ``max_epochs``; the likelihood of held-out
  points (``validation_fraction``) is monitored, and ``early_stopping=True`` stops on it as
  the paper does (off by default, see the parameter).

Numerics: contributions are divided by their root mean square and sizes are centred at the
geometric mean ``k0`` of all samples; outputs are converted back (``c = c~ s0 k0^alpha``,
``sigma = sigma~ s0 k0^(beta/2)``). Output biases start at the medians of per-point MLE fits.
Everything random flows from ``random_state``; on CPU a rerun of the same fit in one
environment is bitwise reproducible.

Usage, like a scikit-learn regressor whose target is the table of sampled contributions::

    model = AmortizedScalingLaw(random_state=0).fit(X_pool, contributions, labels=y_pool)
    model.params_                                  # c, alpha, sigma, beta of the fitted points
    model.predict_params(X_new, labels=y_new)      # any points, no samples needed
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._checks import check_array, check_int, check_labels, check_number, check_random_state
from .._torch import torch_threads
from ..exceptions import ConvergenceWarning
from ._mle import LOG_LOWER, LOG_UPPER
from ._samples import as_samples, check_positive_sizes, pad
from .likelihood import fit_likelihood
from .results import ScalingLawResults
from .simulation import simulate_feature_laws

__all__ = ["AmortizedScalingLaw", "simulate_feature_laws"]


class _Net(torch.nn.Module):
    def __init__(self, n_features, n_classes, hidden_sizes):
        super().__init__()
        layers, width = [], n_features
        for h in hidden_sizes:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(width, 5 * n_classes)
        self.n_classes = n_classes

    def forward(self, x, y):
        out = self.head(self.body(x)).view(len(x), self.n_classes, 5)
        return out[torch.arange(len(x)), y]  # (B, 5): s, log|c|, log alpha, log sigma, log beta


class AmortizedScalingLaw(BaseEstimator):
    """Amortized estimator of ``c, alpha, sigma, beta`` from a point's features and label.

    Parameters
    ----------
    hidden_sizes : widths of the MLP's hidden ReLU layers.
    lr, weight_decay : AdamW settings (cosine schedule down to ``lr / 100``).
    alpha_penalty : weight of the prior ``(alpha - 1)^2`` (paper, Appendix B).
    log_beta_max : clamp on the predicted ``log beta`` (paper: 2).
    clip_grad_norm : gradient-norm clipping threshold.
    batch_size : points per minibatch (each with all its samples).
    max_epochs, patience : training length and early-stopping patience (epochs).
    validation_fraction : share of points held out of training (their parameters are still
        predicted); their likelihood is recorded in ``history_``.
    early_stopping : stop when the held-out likelihood has not improved for ``patience``
        epochs and keep the best weights (the paper's rule). Off by default: with ~10 noisy
        samples a point the held-out likelihood is dominated by the variance fit and stops
        training long before the mean law is learned (on :func:`simulate_feature_laws`, R^2 of
        the predicted means ~0.75 with it vs ~0.97 training the full cosine schedule).
    delta_col : contribution column of the tidy table.
    random_state : seed for initialization, the validation split and the minibatch order
        (``None``, an int, a ``SeedSequence`` or a ``Generator``, as numpy accepts it).
    """

    def __init__(self, *, hidden_sizes=(64, 64), lr=3e-3, weight_decay=1e-5,
                 alpha_penalty=1e-3, log_beta_max=2.0, clip_grad_norm=1.0, batch_size=128,
                 max_epochs=300, patience=30, validation_fraction=0.1, early_stopping=False,
                 delta_col="delta", random_state=None):
        self.hidden_sizes = hidden_sizes
        self.lr = lr
        self.weight_decay = weight_decay
        self.alpha_penalty = alpha_penalty
        self.log_beta_max = log_beta_max
        self.clip_grad_norm = clip_grad_norm
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.delta_col = delta_col
        self.random_state = random_state

    # ------------------------------------------------------------------ input checks
    def _check_params(self):
        try:
            sizes = tuple(self.hidden_sizes)
        except TypeError:
            raise TypeError(f"hidden_sizes must be a sequence of integers; got "
                            f"{self.hidden_sizes!r}.") from None
        for h in sizes:
            check_int(h, "hidden_sizes[i]", low=1)
        for name in ("lr", "clip_grad_norm", "log_beta_max"):
            check_number(getattr(self, name), name, low=0.0, low_open=True)
        for name in ("alpha_penalty", "weight_decay"):
            check_number(getattr(self, name), name, low=0.0)
        for name in ("max_epochs", "batch_size", "patience"):
            check_int(getattr(self, name), name, low=1)
        check_number(self.validation_fraction, "validation_fraction", low=0.0, high=1.0,
                     high_open=True)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"early_stopping must be True or False; got {self.early_stopping!r}.")

    def _check_X_labels(self, X, labels, fitted):
        X = check_array(X, "X")
        labels = (np.zeros(len(X), np.int64) if labels is None
                  else check_labels(labels, "labels", len(X)))
        if fitted:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features; the estimator was fitted on "
                                 f"{self.n_features_in_}.")
            if len(labels) and labels.max() >= self.n_classes_:
                raise ValueError(f"labels has class {labels.max()}, unseen in fit "
                                 f"({self.n_classes_} classes).")
        return X, labels

    # ------------------------------------------------------------------ fit
    def fit(self, X, contributions=None, *, labels=None, point=None, k=None, delta=None):
        """Train on the sampled contributions of the points (rows of ``X``).

        Parameters
        ----------
        X : (n, p) features of the pool's points (the network's input).
        contributions : the target: the tidy table of sampled contributions (columns
            ``point, k, delta_col``; ``point`` ids index rows of ``X``), or None and the arrays
            ``point``, ``k``, ``delta``.
        labels : (n,) class labels 0..K-1 of the rows of ``X`` (the label selects the network's
            head, as in the paper); None = one class.

        Returns self; ``params_`` holds the fitted points' parameters, ``results_`` the
        :class:`ScalingLawResults`.
        """
        self._check_params()
        X, y = self._check_X_labels(X, labels, fitted=False)
        pts, kk, dd = as_samples(contributions, point, k, delta, self.delta_col)
        S = pad(pts, kk, dd, min_samples=1, check_spread=False)
        ids = S.points
        if (not np.issubdtype(np.asarray(ids).dtype, np.integer) or ids.min() < 0
                or ids.max() >= len(X)):
            raise ValueError(f"contributions' point ids must be integer row indices of X "
                             f"(0..{len(X) - 1}); got ids from {ids.min()!r} to {ids.max()!r}.")
        self.n_features_in_ = X.shape[1]
        self.n_classes_ = int(y.max()) + 1
        mask = np.ones_like(S.delta) if S.mask is None else S.mask
        logk = (S.u + S.log_k0[:, None]) * mask
        self.log_k0_ = float((logk.sum() / mask.sum()))
        delta_orig = S.delta * S.scale[:, None]  # pad() rescales each point; undo it here
        big = float(np.max(np.abs(delta_orig)))
        self.delta_scale_ = (big * float(np.sqrt(((delta_orig / big) ** 2).sum() / mask.sum()))
                             if big > 0 else 0.0)
        if self.delta_scale_ == 0:
            raise ValueError("Every contribution is zero: there is no law to fit.")
        u = (logk - self.log_k0_) * mask
        dn = delta_orig / self.delta_scale_
        self.scaler_ = StandardScaler().fit(X[ids])
        init = self._initial_bias(S, pts, kk, dd)

        rng = check_random_state(self.random_state)
        P = len(ids)
        n_val = int(round(self.validation_fraction * P)) if P >= 20 else 0
        perm = rng.permutation(P)
        val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        seed = int(rng.integers(2**31 - 1))

        t = {
            "x": torch.as_tensor(self.scaler_.transform(X[ids])),
            "y": torch.as_tensor(y[ids]),
            "u": torch.as_tensor(u),
            "d": torch.as_tensor(dn),
            "m": torch.as_tensor(mask),
        }
        # one torch thread: batches of a few thousand numbers (scaling_kit._torch)
        with torch_threads(1), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = _Net(self.n_features_in_, self.n_classes_, tuple(int(h) for h in self.hidden_sizes))
            net = net.double()
            with torch.no_grad():
                net.head.weight.zero_()
                net.head.bias.copy_(torch.as_tensor(np.tile(init, self.n_classes_)))
            gen = torch.Generator().manual_seed(seed)
            self.history_, self.best_epoch_ = self._train(net, t, train, val, gen)
        self.network_ = net.eval()
        if self.early_stopping and n_val:
            self.converged_ = len(self.history_) < int(self.max_epochs)
        else:
            self.converged_ = bool(np.isfinite(self.history_["train_nll"].iloc[-1]))
        params = self._params_from_tensors(t["x"], t["y"])
        params.index = pd.Index(ids, name="point")
        params["n_samples"] = S.n.astype(int)
        for col in ("c_se", "alpha_se", "sigma_se", "beta_se"):
            params[col] = np.nan
        params["converged"] = bool(self.converged_)
        params["status"] = "ok" if self.converged_ else "not converged"
        params["split"] = np.where(np.isin(np.arange(P), val), "validation", "train")
        self.params_ = params
        self.results_ = ScalingLawResults(params, "amortized", (S.k_min, S.k_max),
                                          info={"history": self.history_})
        return self

    def _initial_bias(self, S, pts, kk, dd):
        """Medians of per-point MLE fits (in normalized units) as the output biases."""
        a0, b0 = 1.0, 2.0
        keep = np.isin(pts, S.points[S.n >= 3])
        try:
            with warnings.catch_warnings():  # a starting point only: non-convergence is fine
                warnings.simplefilter("ignore", ConvergenceWarning)
                p = fit_likelihood(point=pts[keep], k=kk[keep], delta=dd[keep],
                                   method="newton").params
            a0 = float(np.exp(np.median(np.log(p["alpha"]))))
            b0 = float(np.exp(np.median(np.log(p["beta"]))))
        except ValueError:
            pass  # too few samples for per-point fits: start at the paper's (1, 2)
        a0 = float(np.clip(a0, 0.2, 3.0))
        b0 = float(np.clip(b0, 0.5, np.exp(self.log_beta_max)))
        mask = np.ones_like(S.delta) if S.mask is None else S.mask
        logk = (S.u + S.log_k0[:, None]) * mask
        log_k0 = (logk.sum() / mask.sum())
        u = (logk - log_k0) * mask
        d = S.delta * S.scale[:, None] / self.delta_scale_
        E, F = np.exp(b0 * u) * mask, np.exp(-a0 * u)
        c = (d * F * E).sum(1) / (F * F * E).sum(1)
        s2 = (((d - c[:, None] * F) ** 2) * E).sum(1) / S.n
        log_c = np.median(np.log(np.abs(c) + 1e-12))
        log_s = 0.5 * np.median(np.log(s2 + 1e-24))
        return np.array([0.0, log_c, np.log(a0), log_s, np.log(b0)])

    def _decode(self, out):
        s, log_c, log_a, log_s, log_b = out.unbind(1)
        log_a = torch.clamp(log_a, LOG_LOWER, LOG_UPPER)
        log_b = torch.clamp(log_b, max=self.log_beta_max)
        return s, log_c, torch.exp(log_a), log_s, torch.exp(log_b)

    def _nll(self, out, u, d, m, hard_sign):
        """Mean Gaussian NLL per point (both signs, or the predicted sign)."""
        s, log_c, a, log_s, b = self._decode(out)
        log_sd = log_s[:, None] - 0.5 * b[:, None] * u
        mag = torch.exp(log_c[:, None] - a[:, None] * u)
        n = m.sum(1)

        def nll(sign):
            z = (d - sign * mag) * torch.exp(-log_sd)
            return ((log_sd + 0.5 * z * z) * m).sum(1) / n + 0.5 * np.log(2 * np.pi)

        if hard_sign:
            return nll(torch.where(s >= 0, 1.0, -1.0).to(d.dtype)[:, None]), a
        return nll(1.0), nll(-1.0), s, a

    def _objective(self, out, u, d, m):
        """Training loss: NLL with the better sign per point + logistic loss of the sign
        output towards that sign + alpha prior. Returns (loss, NLL term)."""
        pos, neg, s, a = self._nll(out, u, d, m, False)
        choose_pos = (pos <= neg).detach()
        fit = torch.where(choose_pos, pos, neg).mean()
        sign_loss = torch.nn.functional.binary_cross_entropy_with_logits(s, choose_pos.to(s.dtype))
        prior = self.alpha_penalty * ((a - 1) ** 2).mean()
        return fit + sign_loss + prior, fit

    def _train(self, net, t, train, val, gen):
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(self.max_epochs),
                                                           eta_min=self.lr / 100)
        train_t = torch.as_tensor(train)
        history, best, best_state, best_epoch, bad = [], np.inf, None, 0, 0
        for epoch in range(int(self.max_epochs)):
            net.train()
            order = train_t[torch.randperm(len(train_t), generator=gen)]
            total = 0.0
            for start in range(0, len(order), int(self.batch_size)):
                idx = order[start : start + int(self.batch_size)]
                out = net(t["x"][idx], t["y"][idx])
                loss, fit = self._objective(out, t["u"][idx], t["d"][idx], t["m"][idx])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), self.clip_grad_norm)
                opt.step()
                total += float(fit.detach()) * len(idx)
            sched.step()
            net.eval()
            with torch.no_grad():
                watch = val if len(val) else train
                out = net(t["x"][watch], t["y"][watch])
                v = float(self._objective(out, t["u"][watch], t["d"][watch], t["m"][watch])[0])
            history.append((epoch, total / len(train), v))
            if not (self.early_stopping and len(val)):
                best_epoch = epoch
            elif v < best - 1e-9:
                best, best_state, best_epoch, bad = v, copy.deepcopy(net.state_dict()), epoch, 0
            else:
                bad += 1
                if bad >= int(self.patience):
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        hist = pd.DataFrame(history, columns=["epoch", "train_nll", "val_nll"]).set_index("epoch")
        return hist, best_epoch

    # ------------------------------------------------------------------ predict
    def _params_from_tensors(self, x, y):
        with torch.no_grad(), torch_threads(1):
            s, log_c, a, log_s, b = self._decode(self.network_(x, y))
        s, log_c, a, log_s, b = (v.numpy() for v in (s, log_c, a, log_s, b))
        sign = np.where(s >= 0, 1.0, -1.0)
        c = sign * np.exp(log_c + a * self.log_k0_) * self.delta_scale_
        sigma = np.exp(log_s + 0.5 * b * self.log_k0_) * self.delta_scale_
        return pd.DataFrame({"c": c, "alpha": a, "sigma": sigma, "beta": b})

    def predict_params(self, X, *, labels=None) -> pd.DataFrame:
        """Parameters ``c, alpha, sigma, beta`` for any points (rows of ``X`` with class
        ``labels``), fitted or new: the amortized network needs no samples of them."""
        check_is_fitted(self, "network_")
        X, y = self._check_X_labels(X, labels, fitted=True)
        return self._params_from_tensors(torch.as_tensor(self.scaler_.transform(X)),
                                         torch.as_tensor(y))

    def predict(self, X, k, *, labels=None) -> pd.DataFrame:
        """``c k^-alpha`` for the rows of ``X`` (rows) at each ``k`` (columns)."""
        k = check_positive_sizes(k, "k")
        p = self.predict_params(X, labels=labels)
        return ScalingLawResults(p, "amortized").predict(k)

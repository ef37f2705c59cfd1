"""Anderson acceleration of a fixed-point iteration, batched over many independent problems."""

from __future__ import annotations

import numpy as np

__all__ = ["Anderson", "take"]


def take(arr, order):
    """Gather along axis 1 with per-round orders (R, A')."""
    if order.shape[0] == 1:
        return arr[:, order[0]]
    return arr[np.arange(order.shape[0])[:, None], order]


class Anderson:
    """Type-II Anderson acceleration (Walker & Ni 2011) of a fixed-point map T, batched over
    the leading axes of the iterates (..., n).

    ``mix(x, f)`` takes the residual ``f = T(x) - x`` and returns ``(next iterate, T(x))``, the
    next iterate being ``T(x) - sum_j gamma_j (T(x) - T(x_j))`` with gamma minimizing
    ``|f - sum_j gamma_j (f - f_j)|`` over the last ``memory`` iterates (a small ridge keeps the
    least-squares problem regular). Histories are ring buffers (the mix does not depend on the
    order of its columns), and the Gram matrix of the stored residuals is kept up to date, so
    the normal equations ``(f - f_i).(f - f_j) = f.f - f.f_i - f.f_j + f_i.f_j`` cost one pass
    over the history per step. A mix that is not finite falls back to the plain step T(x).
    """

    def __init__(self, shape, memory=3):
        self.memory, self.count = memory, 0
        self.F = np.empty(shape[:-1] + (memory, shape[-1]))
        self.T = np.empty_like(self.F)
        self.FF = np.zeros(shape[:-1] + (memory, memory))

    def mix(self, x, f):
        image = x + f
        n = min(self.count, self.memory)
        ff = np.einsum("...n,...n->...", f, f)
        x_new = image
        fF = None
        if n:
            fF = (self.F[..., :n, :] @ f[..., None])[..., 0]
            gram = ff[..., None, None] - fF[..., :, None] - fF[..., None, :] + self.FF[..., :n, :n]
            ridge = np.trace(gram, axis1=-2, axis2=-1)[..., None, None] * 1e-12 + 1e-300
            try:
                with np.errstate(all="ignore"):
                    gamma = np.linalg.solve(gram + ridge * np.eye(n),
                                            (ff[..., None] - fF)[..., None])
                    x_new = image * (1.0 - gamma[..., 0].sum(axis=-1))[..., None] + \
                        (gamma[..., 0][..., None, :] @ self.T[..., :n, :])[..., 0, :]
            except np.linalg.LinAlgError:  # an exactly singular Gram matrix: plain steps
                x_new = image
            ok = np.all(np.isfinite(x_new), axis=-1)
            if not ok.all():
                x_new = np.where(ok[..., None], x_new, image)
        slot = self.count % self.memory
        self.F[..., slot, :] = f
        self.T[..., slot, :] = image
        if n:
            self.FF[..., slot, :n] = fF
            self.FF[..., :n, slot] = fF
        self.FF[..., slot, slot] = ff
        self.count += 1
        return x_new, image

    def take(self, order):
        """Keep the histories of the iterates ``take(x, order)`` keeps."""
        self.F, self.T, self.FF = take(self.F, order), take(self.T, order), take(self.FF, order)

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
    """Type-II Anderson acceleration (Walker & Ni 2011, difference form) of a fixed-point map
    T, batched over the leading axes of the iterates (..., n).

    ``mix(x, f)`` takes the residual ``f = T(x) - x`` and returns ``(next iterate, T(x))``:
    ``T(x) - dT gamma`` with ``gamma`` minimizing ``|f - dF gamma|`` over the differences
    ``dF_j = f_{j+1} - f_j`` and ``dT_j = T(x_{j+1}) - T(x_j)`` of the last ``memory + 1``
    iterates (a small ridge keeps the least-squares problem regular; the Gram matrix of the
    differences is updated incrementally). The differences are stored in single precision:
    they only form the next iterate's *step*, whose relative rounding (~1e-7) changes the
    speed of the iteration, never its fixed point, as for the single-precision
    preconditioner. A mix that is not finite falls back to the plain step T(x).
    """

    def __init__(self, shape, memory=3):
        self.memory, self.count = memory, 0
        lead, n = shape[:-1], shape[-1]
        self.dF = np.zeros(lead + (memory, n), dtype=np.float32)
        self.dT = np.zeros(lead + (memory, n), dtype=np.float32)
        self.gram = np.zeros(lead + (memory, memory))
        self.f_prev = np.zeros(lead + (n,), dtype=np.float32)
        self.t_prev = np.zeros(lead + (n,))

    def mix(self, x, f):
        """One Anderson (type II) step: the mixed next iterate from the current iterate ``x``
        and its fixed-point residual ``f`` (the chord step), using the stored history."""
        image = x + f
        if self.count:
            slot = (self.count - 1) % self.memory
            np.subtract(f, self.f_prev, out=self.dF[..., slot, :], casting="unsafe")
            np.subtract(image, self.t_prev, out=self.dT[..., slot, :], casting="unsafe")
            new = self.dF[..., slot, :]
            cross = (self.dF @ new[..., None])[..., 0].astype(float)
            self.gram[..., slot, :] = cross
            self.gram[..., :, slot] = cross
        self.f_prev[...] = f
        self.t_prev[...] = image
        n = min(self.count, self.memory)
        self.count += 1
        if not n:
            return image, image
        gram = self.gram[..., :n, :n]
        rhs = (self.dF[..., :n, :] @ f.astype(np.float32, copy=False)[..., None]).astype(float)
        ridge = np.trace(gram, axis1=-2, axis2=-1)[..., None, None] * 1e-10 + 1e-300
        with np.errstate(all="ignore"):
            try:
                gamma = np.linalg.solve(gram + ridge * np.eye(n), rhs)
            except np.linalg.LinAlgError:  # an exactly singular Gram matrix: plain step
                return image, image
            step = (gamma.astype(np.float32).swapaxes(-1, -2) @ self.dT[..., :n, :])[..., 0, :]
            x_new = image - step
            ok = np.isfinite(x_new.sum(axis=-1))
        if not ok.all():
            x_new = np.where(ok[..., None], x_new, image)
        return x_new, image

    def take(self, order):
        """Keep the histories of the iterates ``take(x, order)`` keeps."""
        for name in ("dF", "dT", "gram", "f_prev", "t_prev"):
            setattr(self, name, take(getattr(self, name), order))

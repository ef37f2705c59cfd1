"""Training B small ReLU MLPs at once with a hand-written backward pass and a fused Adam step.

The model, the objective and the optimizer are specified in :mod:`scaling_kit.mlp`; this module
is the fast implementation (the reference one is ``torch.nn`` + ``torch.optim.Adam``, one
network at a time, in :mod:`scaling_kit.mlp`). Network ``b`` of a batch has layers
``H_0 = X_b``, ``H_l = relu(H_{l-1} W_l + b_l)`` (l = 1..L) and logits ``H_L W_o + b_o``; the
weights of all B networks live in one flat vector, one contiguous block per layer weight and
bias (block shapes ``(B, fan_in, fan_out)`` and ``(B, 1, fan_out)``), so that

* the forward and backward passes are batched matrix products (``torch.baddbmm``/``bmm``,
  bias addition fused into the product), ``3 (L + 1) - 1`` of them per step, and the
  gradients are written straight into the flat gradient vector;
* when the first rows of X are the same in every network (the D of a batch of D + {z}),
  the first layer's products over them are single large GEMMs, ``X_D [W_1 .. W_B]`` forward and
  ``X_D^T [G_1 .. G_B]`` for the weight gradient (two to three times the rate of B small ones);
* Adam is five elementwise operations on the whole flat vector (no per-parameter loop), with
  torch's arithmetic (``torch.optim.Adam``, ``foreach=False``): ``m <- lerp(m, g, 1 - b1)``,
  ``v <- b2 v + (1 - b2) g^2``, ``theta <- theta - (lr / (1 - b1^t)) m / (sqrt(v) /
  sqrt(1 - b2^t) + eps)``.

Gradients (per network, minibatch of m rows, one-hot labels Y, probabilities P = softmax):

* ``log_loss`` (mean cross-entropy of the softmax): ``dJ/dlogits = (P - Y) / m``;
* ``softmax_ce`` (mean cross-entropy of a *second* softmax taken of the probabilities, the
  loss OpenDataVal's ``TorchClassMixin.fit`` trains a multiclass ``ClassifierMLP`` with):
  with ``Q = softmax(P)`` and ``g = Q - Y``, ``dJ/dlogits = P * (g - sum_c g_c P_c) / m``;
* weight decay ``wd/(2m) * sum ||W||^2`` (weights only) adds ``(wd / m) W``;
* back through a ReLU: the gradient is kept where the layer's output is positive.
"""

from __future__ import annotations

import math

import torch

__all__ = []  # private: used by scaling_kit.mlp

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults


def layer_shapes(n_features: int, hidden: int, n_hidden_layers: int, n_classes: int) -> list:
    """``(fan_in, fan_out)`` of every linear layer, input to output."""
    widths = [n_features] + [hidden] * n_hidden_layers + [n_classes]
    return list(zip(widths[:-1], widths[1:], strict=True))


def flops_per_step(n_rows: int, shapes) -> int:
    """Floating-point operations of the matrix products of one training step of one network.

    Forward ``2 m fan_in fan_out`` per layer; backward the same for every weight gradient and
    for every input gradient except the first layer's (the data need none).
    """
    per_layer = [2 * n_rows * fi * fo for fi, fo in shapes]
    return 3 * sum(per_layer) - per_layer[0]


def linear_init(seed: int, shapes):
    """Initial ``(W (fan_out, fan_in), b (fan_out,))`` per layer, and the generator after them.

    Exactly what ``torch.manual_seed(seed)`` followed by constructing ``torch.nn.Linear`` layers
    in order draws (``kaiming_uniform_(a=sqrt(5))`` for W, uniform on ``+-1/sqrt(fan_in)`` for
    b; float32, torch's default dtype), but from a private ``torch.Generator`` so that torch's
    global random state is left alone.
    """
    g = torch.Generator().manual_seed(int(seed))
    params = []
    for fan_in, fan_out in shapes:
        W = torch.empty(fan_out, fan_in, dtype=torch.float32)
        torch.nn.init.kaiming_uniform_(W, a=math.sqrt(5), generator=g)
        b = torch.empty(fan_out, dtype=torch.float32)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        torch.nn.init.uniform_(b, -bound, bound, generator=g)
        params.append((W, b))
    return params, g


class FlatParameters:
    """B networks' weights in one flat vector, each block contiguous: per hidden layer a weight
    block (B, fan_in, fan_out) and a bias block (B, 1, fan_out); for the output layer the
    class-major blocks (B, K, h) and (B, K, 1) (``torch.nn.Linear``'s layout), so that logits
    come out as (B, K, m), where a softmax over the classes is a fast strided kernel (a softmax
    over a last dimension of 2 is about ten times slower in torch)."""

    def __init__(self, shapes, B: int, dtype, device):
        self.shapes, self.B = list(shapes), int(B)
        self.block_shapes = [((B, fi, fo), (B, 1, fo)) for fi, fo in self.shapes[:-1]]
        h, K = self.shapes[-1]
        self.block_shapes.append(((B, K, h), (B, K, 1)))
        self.slices, offset = [], 0
        for w_shape, b_shape in self.block_shapes:
            w = slice(offset, offset + math.prod(w_shape))
            b = slice(w.stop, w.stop + math.prod(b_shape))
            self.slices.append((w, b))
            offset = b.stop
        self.size = offset
        self.dtype, self.device = dtype, device

    def empty(self):
        return torch.empty(self.size, dtype=self.dtype, device=self.device)

    def zeros(self):
        return torch.zeros(self.size, dtype=self.dtype, device=self.device)

    def views(self, flat):
        """``[(W, b), ...]``: views of the blocks of ``flat`` (shapes in the class docstring)."""
        return [
            (flat[w].view(w_shape), flat[b].view(b_shape))
            for (w, b), (w_shape, b_shape) in zip(self.slices, self.block_shapes, strict=True)
        ]

    def load(self, flat, init):
        """Copy initial weights ``[(W (B, fan_out, fan_in), b (B, fan_out)), ...]`` (torch.nn's
        layout) into ``flat``."""
        for (W, b), (W0, b0) in zip(self.views(flat)[:-1], init[:-1], strict=True):
            W.copy_(W0.transpose(1, 2))
            b.copy_(b0[:, None, :])
        (W, b), (W0, b0) = self.views(flat)[-1], init[-1]
        W.copy_(W0)
        b.copy_(b0[:, :, None])


def _first_layer_shared(W, b, X, shared: int):
    """relu(X_b W_b + b_b) for all b when the first ``shared`` rows of X are the same in every
    network: those rows go through one large product ``X_0 [W_1 .. W_B]`` (a plain GEMM, two to
    three times the rate of B small ones), the rest through a batched product. Returns a
    (B, n, h) view of an (n, B, h) array."""
    B, n, p = X.shape
    h = W.shape[2]
    Z = torch.empty(n, B, h, dtype=X.dtype, device=X.device)
    W_all = W.transpose(0, 1).reshape(p, B * h)
    torch.addmm(b.reshape(1, B * h), X[0, :shared], W_all, out=Z[:shared].view(shared, B * h))
    if shared < n:
        Z[shared:].copy_(torch.baddbmm(b, X[:, shared:], W).transpose(0, 1))
    return Z.relu_().transpose(0, 1)


def forward(params, X, shared: int = 0):
    """Hidden activations ``[H_1..H_L]`` (B, m, h) and class-major logits (B, K, m).

    ``shared``: the number of leading rows of X that are the same in every network (0: none).
    """
    W, b = params[0]
    H = _first_layer_shared(W, b, X, shared) if shared else torch.baddbmm(b, X, W).relu_()
    activations = [H]
    for W, b in params[1:-1]:
        H = torch.baddbmm(b, H, W).relu_()
        activations.append(H)
    W, b = params[-1]
    return activations, torch.baddbmm(b, W, H.transpose(1, 2))


def logits_gradient(logits, Y, training_loss: str):
    """dJ/dlogits (B, K, m) of the mean training loss (module docstring); Y one-hot (B, K, m)."""
    m = logits.shape[2]
    P = torch.softmax(logits, dim=1)
    if training_loss == "log_loss":
        return P.sub_(Y).div_(m)
    g = torch.softmax(P, dim=1).sub_(Y)
    inner = torch.sum(g * P, dim=1, keepdim=True)
    return g.sub_(inner).mul_(P).div_(m)


def training_loss_value(logits, Y, training_loss: str):
    """Mean training loss of each network, shape (B,)."""
    logp = torch.log_softmax(logits, dim=1)
    if training_loss == "log_loss":
        return -(logp * Y).sum(dim=1).mean(dim=-1)
    P = logp.exp()
    return (torch.logsumexp(P, dim=1) - (P * Y).sum(dim=1)).mean(dim=-1)


def _first_layer_gradient_shared(W, gW, gb, X, H, G, beta: float, shared: int):
    """The first layer's gradients when the first ``shared`` rows of X are common (see
    :func:`_first_layer_shared`): ``X_0^T [G_1 .. G_B]`` as one product, the rest batched."""
    B, n, p = X.shape
    h = W.shape[2]
    G1 = torch.empty(n, B, h, dtype=G.dtype, device=G.device)  # relu mask, rows outer
    torch.ops.aten.threshold_backward.grad_input(G.transpose(0, 1), H.transpose(0, 1), 0,
                                                 grad_input=G1)
    common = torch.mm(X[0, :shared].T, G1[:shared].view(shared, B * h))
    gW.copy_(common.view(p, B, h).transpose(0, 1))
    if beta:
        gW.add_(W, alpha=beta)
    if shared < n:
        gW.baddbmm_(X[:, shared:].transpose(1, 2), G1[shared:].transpose(0, 1))
    torch.sum(G1, dim=0, out=gb.view(B, h))


def backward(params, grads, X, activations, G, weight_decay: float, shared: int = 0):
    """Write the gradients of all layers into ``grads`` (views of the flat gradient); ``G`` is
    dJ/dlogits (B, K, m); ``shared`` as in :func:`forward`."""
    m = X.shape[1]
    inputs = [X] + activations
    beta = weight_decay / m
    # output layer (class-major)
    W, _ = params[-1]
    gW, gb = grads[-1]
    if weight_decay:
        torch.baddbmm(W, G, inputs[-1], beta=beta, out=gW)
    else:
        torch.bmm(G, inputs[-1], out=gW)
    torch.sum(G, dim=2, keepdim=True, out=gb)
    G = torch.bmm(G.transpose(1, 2), W)
    for layer in range(len(params) - 2, -1, -1):
        W, _ = params[layer]
        gW, gb = grads[layer]
        if layer == 0 and shared:
            _first_layer_gradient_shared(W, gW, gb, X, inputs[1], G, beta, shared)
            return
        G = torch.ops.aten.threshold_backward(G, inputs[layer + 1], 0)
        H_in = inputs[layer].transpose(1, 2)
        if weight_decay:
            torch.baddbmm(W, H_in, G, beta=beta, out=gW)
        else:
            torch.bmm(H_in, G, out=gW)
        torch.sum(G, dim=1, keepdim=True, out=gb)
        if layer:
            G = torch.bmm(G, W.transpose(1, 2))


def adam_step(theta, grad, m, v, denom, step: int, lr: float):
    """One Adam update of the whole flat vector, torch.optim.Adam's arithmetic (in place)."""
    m.lerp_(grad, 1 - BETA1)
    v.mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
    bias_correction1 = 1 - BETA1**step
    bias_correction2_sqrt = (1 - BETA2**step) ** 0.5
    torch.sqrt(v, out=denom)
    denom.div_(bias_correction2_sqrt).add_(EPS)
    theta.addcdiv_(m, denom, value=-lr / bias_correction1)


def train(X, y, init, recipe, shuffles=None, record_loss=False, shared=0):
    """Train B networks; returns (flat parameters, layout, loss curve (steps, B) or None).

    X (B, n, p) and the initial weights ``init`` (per layer ``(W (B, fan_out, fan_in),
    b (B, fan_out))``, torch.nn's layout) are tensors in the training dtype and device; y (B, n)
    int64 labels on the device. ``recipe`` has ``n_epochs, batch_size, lr, weight_decay,
    training_loss, n_classes``. ``shuffles``: one ``(B, n)`` permutation tensor per epoch
    (minibatch training) or None (full batch). ``shared``: leading rows common to all networks
    (full batch only).
    """
    B, n, _ = X.shape
    shapes = [(W.shape[2], W.shape[1]) for W, _ in init]
    layout = FlatParameters(shapes, B, X.dtype, X.device)
    theta = layout.empty()
    layout.load(theta, init)
    params = layout.views(theta)
    grad, m, v, denom = layout.empty(), layout.zeros(), layout.zeros(), layout.empty()
    grads = layout.views(grad)
    Y = torch.zeros(B, recipe.n_classes, n, dtype=X.dtype, device=X.device)
    Y.scatter_(1, y[:, None, :], 1.0)
    rows = n if recipe.batch_size is None else min(recipe.batch_size, n)
    curve, step = [], 0
    for epoch in range(recipe.n_epochs):
        for start in range(0, n, rows):
            if rows == n:
                xb, yb = X, Y
            else:
                idx = shuffles[epoch][:, start:start + rows]
                xb = torch.gather(X, 1, idx[:, :, None].expand(-1, -1, X.shape[2]))
                yb = torch.gather(Y, 2, idx[:, None, :].expand(-1, Y.shape[1], -1))
            rows_shared = shared if rows == n else 0
            activations, logits = forward(params, xb, rows_shared)
            if record_loss:
                value = training_loss_value(logits, yb, recipe.training_loss)
                if recipe.weight_decay:
                    penalty = sum(torch.sum(W * W, dim=(1, 2)) for W, _ in params)
                    value = value + 0.5 * recipe.weight_decay * penalty / xb.shape[1]
                curve.append(value)
            G = logits_gradient(logits, yb, recipe.training_loss)
            backward(params, grads, xb, activations, G, recipe.weight_decay, rows_shared)
            step += 1
            adam_step(theta, grad, m, v, denom, step, recipe.lr)
    return theta, layout, (torch.stack(curve) if record_loss else None)


def predict_proba(params, X_eval):
    """Softmax probabilities (B, n_eval, K) of B networks on a shared X_eval (n_eval, p)."""
    B = params[0][0].shape[0]
    _, logits = forward(params, X_eval.expand(B, -1, -1), shared=X_eval.shape[0])
    return torch.softmax(logits, dim=1).transpose(1, 2)

"""Backpropagation, written out as the lecture's recursion (no jax.grad, vjp or jacobian).

For one training instance (x, y), with the layer numbering of `jaxann.network`:

1. forward pass:         z^l = a^{l-1} @ W^l + b^l,  a^l = h(z^l)  (a^L = z^L, linear)
2. boundary condition:   delta^L = de/dz^L, owned by the cost (`jaxann.losses`):
                         p - y for softmax + cross-entropy, 2 (a^L - y) for MSE
3. backward recursion:   delta^l = (W^{l+1} @ delta^{l+1}) * h'(z^l),  l = L-1 .. 1
4. gradients:            de/dW^l_ij = a^{l-1}_i delta^l_j,   de/db^l_j = delta^l_j

`backprop` runs steps 1-3 for each example, `jax.vmap`-ed over the batch, then averages
step 4 over the m examples -- sum_i a_i^{l-1} (delta_i^l)^T is one matrix product,
(a^{l-1})^T @ delta^l, rather than m outer products summed -- and adds the L2 term's
gradient alpha / m * W^l. The result has
the tree structure of `params` and equals `jax.grad(jaxann.loss)` to rounding.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxann.activations import get_activation
from jaxann.losses import batch_cost, get_loss
from jaxann.network import check_alpha, feedforward, prepare


def deltas(params, x, t, activation: str, loss: str):
    """Steps 1-3 for ONE example x (n_0,) with target row t (n_L,).

    Returns (activations, deltas): activations[l] = a^l for l = 0..L and
    deltas[l-1] = delta^l for l = 1..L.
    """
    dh = get_activation(activation).dh
    zs, activations = feedforward(params, x, activation)
    L = len(params)
    delta = get_loss(loss).delta(activations[L], t)  # boundary condition, delta^L
    ds = [delta]
    for l in range(L - 1, 0, -1):  # delta^l from delta^{l+1}; params[l] holds W^{l+1}
        delta = (params[l]["W"] @ delta) * dh(zs[l - 1])
        ds.append(delta)
    return activations, ds[::-1]


def example_gradient(params, x, t, activation: str, loss: str):
    """Step 4 for ONE example: {"W": outer(a^{l-1}, delta^l), "b": delta^l} per layer, no L2."""
    activations, ds = deltas(params, x, t, activation, loss)
    return tuple(
        {"W": jnp.outer(a_prev, delta), "b": delta} for a_prev, delta in zip(activations, ds)
    )


def value_and_backprop(params, x, t, sample_weight, activation: str, loss: str, alpha):
    """((C, a^L), dC/dtheta) for rows x (m, n_0), target rows t (m, n_L), sample weights (m,).

    The value and output of `jaxann.network.objective` (weight 0 marks padding, M = the
    weights' sum), with the gradient from the delta recursion instead of autodiff.
    """
    activations, ds = jax.vmap(deltas, in_axes=(None, 0, 0, None, None))(
        params, x, t, activation, loss
    )
    M = jnp.sum(sample_weight)
    a_L = activations[-1]
    C = batch_cost(params, a_L, t, sample_weight, loss, alpha)
    grads = tuple(
        {
            # 1/M sum_i sample_weight_i a_i^{l-1} (delta_i^l)^T + alpha / M W^l
            "W": (a_prev.T @ (delta * sample_weight[:, None])) / M + (alpha / M) * layer["W"],
            "b": (sample_weight @ delta) / M,
        }
        for layer, a_prev, delta in zip(params, activations, ds)
    )
    return (C, a_L), grads


@partial(jax.jit, static_argnames=("activation", "loss"))
def _backprop(params, x, t, activation, loss, alpha):
    return value_and_backprop(params, x, t, jnp.ones(x.shape[0], x.dtype), activation, loss, alpha)[1]


def backprop(params, x, y, activation: str = "relu", loss: str = "cross_entropy", alpha=0.0):
    """dC/dtheta by the explicit delta recursion, for the cost of `jaxann.loss`.

    x: (m, n_0) (or one example (n_0,)); y: integer labels (m,) or targets (m, n_L).
    Returns a tuple of {"W": (n_{l-1}, n_l), "b": (n_l,)}, like params.
    """
    x, t = prepare(params, x, y, activation, loss)
    return _backprop(params, x, t, activation, loss, check_alpha(alpha))

"""Per-example gradients: the gradient of each training example's own cost.

    g_i = d e(a^L(x_i), y_i) / d theta,    i = 1..m      (no L2 term, no 1/m)

so that mean_i g_i is the batch gradient of `jaxann.loss` with alpha = 0. The result has
the tree of `params` with a leading axis m on every leaf: W^l (m, n_{l-1}, n_l), b^l
(m, n_l). Two sources, as for training: "autodiff" vmaps `jax.grad` of one example's cost;
"backprop" vmaps the lecture's recursion (`jaxann.deltas.example_gradient`), whose
per-example weight gradient is the outer product a^{l-1} (delta^l)^T.

Typical use, per-example gradient norms (for clipping, or to find the examples that
pull hardest):

    g = jaxann.per_example_grads(params, x, y, activation="relu", loss="cross_entropy")
    norms = jnp.sqrt(sum(jnp.sum(leaf.reshape(len(x), -1) ** 2, axis=1) for leaf in jax.tree.leaves(g)))

Memory is m times the parameters': batch accordingly.
"""

from __future__ import annotations

from functools import partial

import jax

from jaxann.deltas import GRADS, example_gradient
from jaxann.errors import JaxannError
from jaxann.losses import get_loss
from jaxann.network import feedforward, prepare


def _example_cost(params, x, t, activation, loss):
    return get_loss(loss).e(feedforward(params, x, activation)[1][-1], t)


@partial(jax.jit, static_argnames=("activation", "loss", "grad"))
def _per_example(params, x, t, activation, loss, grad, feedback):
    if grad == "autodiff":
        return jax.vmap(jax.grad(_example_cost), in_axes=(None, 0, 0, None, None))(params, x, t, activation, loss)
    return jax.vmap(example_gradient, in_axes=(None, 0, 0, None, None, None, None))(
        params, x, t, activation, loss, grad, feedback)


def per_example_grads(params, x, y, activation: str = "relu", loss: str = "cross_entropy",
                      grad: str = "autodiff", feedback=()):
    """For rows x (m, n_0) and labels (m,) / targets (m, n_L): each example's gradient (for
    a learning rule other than backprop, its update direction; feedback: the rule's
    feedback, `jaxann.deltas.feedback_matrices`, for sign_symmetry_brm one batch's
    magnitudes, `jaxann.deltas.batch_magnitudes`).

    Returns params' tree with a leading axis m (see the module docstring); no L2 term.
    """
    if grad not in GRADS:
        raise JaxannError(f"unknown grad {grad!r}; expected one of: {', '.join(GRADS)}")
    x, t, activation = prepare(params, x, y, activation, loss)
    return _per_example(params, x, t, activation, loss, grad, tuple(feedback))
